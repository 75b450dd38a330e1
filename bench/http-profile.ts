/**
 * What an HTTP intent costs inside the sidecar (issue 15, step 4): a sidecar process (the built CLI,
 * consensus off) under `--cpu-prof`, fed `POST /v1/intents` by this process, one intent per request
 * with 64 in flight (c′) or batches of 256 with 4 in flight (c″), until every intent is committed;
 * then stopped so that V8 writes the profile. Read it with `cpu-profile-summary`. Usage:
 *   node --import ./dist/src/polyfills.js dist/bench/http-profile.js [--batch] [--count N] [--out DIR]
 */
import { Agent, request } from 'node:http';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CliSidecar } from './cli-sidecar.js';
import { closedLoop, withNats, withTempDir } from './common.js';
import { intentBody } from './sidecar-harness.js';

function post(agent: Agent, port: number, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/intents',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const batch = args.includes('--batch');
  const count = Number(args.includes('--count') ? args[args.indexOf('--count') + 1] : 30_000);
  const out = args.includes('--out') ? args[args.indexOf('--out') + 1]! : '/tmp/net-sync-http-profile';
  const per = batch ? 256 : 1;
  const inFlight = batch ? 4 : 64;
  await withNats((server) =>
    withTempDir(async (dir) => {
      const sidecar = await CliSidecar.start({
        dir,
        natsUrl: server.url,
        cpuProfDir: out,
      });
      const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
      try {
        const one = intentBody();
        const body = Buffer.from(JSON.stringify(batch ? Array.from({ length: per }, () => one) : one));
        const committed = async (): Promise<number> =>
          ((await sidecar.get('/v1/status')) as { outbox?: { command?: { committed?: number } } } | undefined)?.outbox
            ?.command?.committed ?? 0;
        await waitFor('NATS ready', async () => (await fetch(`${sidecar.url}/readyz`)).ok, 30_000);
        const requests = Math.ceil(count / per);
        const started = performance.now();
        await closedLoop(requests, inFlight, () => post(agent, sidecar.port, body));
        const accepted = performance.now();
        await waitFor('all committed', async () => (await committed()) >= requests * per, 300_000);
        const done = performance.now();
        const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
        const metric = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
        const commits = metric('net_sync_outbox_group_commit_rows_count');
        const rows = metric('net_sync_outbox_group_commit_rows_sum');
        process.stdout.write(`group commits ${commits}, rows per commit ${(rows / commits).toFixed(1)}\n`);
        const n = requests * per;
        process.stdout.write(
          `${batch ? `batches of ${per}, ${inFlight}` : `1 per request, ${inFlight}`} in flight: ${n} intents, ` +
            `accept ${Math.round(n / ((accepted - started) / 1000))}/s, committed ${Math.round(n / ((done - started) / 1000))}/s, ` +
            `window ${((accepted - started) / 1000).toFixed(1)} s\n`,
        );
      } finally {
        agent.destroy();
        await sidecar.stop();
      }
      const files = readdirSync(out).filter((f) => f.endsWith('.cpuprofile'));
      process.stdout.write(`profiles in ${out}: ${files.map((f) => join(out, f)).join(', ')}\n`);
    }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`http-profile failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
