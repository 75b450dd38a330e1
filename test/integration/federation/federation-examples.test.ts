// examples/federation/ on nats-server 2.9.10, started from the example files as shipped (the test
// substitutes only loopback ports, store dirs, secrets and peer IDs): ORG's hub with a landing
// account for acme, acme's own server with its leaf node bound to it, domains org and acme. The
// example net-sync configs apply and verify their streams with sources; a real org sidecar sends
// events, they reach acme's stream by sourcing and a real acme sidecar pushes them to an agent;
// acme's signed receipts come back into org's FEDERATION by sourcing and the events are acked;
// `federation verify` exits 0. acme is confined to its filter: a consumer-create for another
// subject gets no answer, and one whose body asks for another filter is refused.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { reapOnExit } from '../../../src/devkit/child-reaper.js';
import { freePort, NATS_SERVER_BINARY } from '../../../src/devkit/nats-server-process.js';
import { registerCleanup } from '../../support/nats-fixture.js';
import { ROOT, runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { tempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const EXAMPLES = join(ROOT, 'examples/federation');
const EXAMPLE_ORG_KEY = '12D3KooWCDnZYTFpKPdBdG3b53acD3brgbNHqZo9Se1rV5FkWTJs';
const EXAMPLE_ACME_KEY = '12D3KooWBdF7cZCoazk3q3G9TquZKbzRzWy9mNL3ajGRKRX23jXX';
const SECRETS = { ORG_PASSWORD: 'org-pw', ACME_PASSWORD: 'acme-pw', ACME_LEAF_PASSWORD: 'leaf-pw' };

/** Starts nats-server on `configText` (written to `dir`) and waits until it is ready. */
async function startServer(dir: string, name: string, configText: string, env: Record<string, string>): Promise<void> {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, configText);
  const child: ChildProcess = spawn(NATS_SERVER_BINARY, ['-c', file], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  reapOnExit(child);
  registerCleanup(async () => {
    if (child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
  });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready: ${log.slice(-2000)}`)), 15_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log = (log + d).slice(-20_000);
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}: ${log.slice(-2000)}`)));
  });
}

async function keygen(file: string, dir: string): Promise<string> {
  const r = await runCliProcess(
    ['keygen', '--out', file, '--json'],
    { PATH: process.env['PATH'] ?? '', HOME: dir },
    dir,
  );
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { peerId: string }).peerId;
}

async function answer(nc: NatsConnection, subject: string, body: unknown): Promise<string> {
  try {
    return (await nc.request(subject, JSON.stringify(body), { timeout: 1_500 })).string();
  } catch (err) {
    return `no answer (${(err as { code?: string }).code})`;
  }
}

describe('examples/federation: hub and partner on nats-server 2.9.10', () => {
  it('carries events to acme and receipts back by sourcing, and confines acme to its filter', async () => {
    const dir = tempDir('fed-examples');
    const [hubPort, leafPort, acmePort] = [await freePort(), await freePort(), await freePort()];
    const hubConf = readFileSync(join(EXAMPLES, 'hub.conf'), 'utf8')
      .replace('127.0.0.1:4222', `127.0.0.1:${hubPort}`)
      .replaceAll('127.0.0.1:7422', `127.0.0.1:${leafPort}`)
      .replace('/var/lib/nats/org-hub', join(dir, 'hub'));
    const partnerConf = readFileSync(join(EXAMPLES, 'partner.conf'), 'utf8')
      .replace('127.0.0.1:4223', `127.0.0.1:${acmePort}`)
      .replace('/var/lib/nats/acme', join(dir, 'acme'));
    expect(hubConf).toContain(`${leafPort}`);
    expect(partnerConf).toContain(`${acmePort}`);
    await startServer(dir, 'hub', hubConf, SECRETS);
    await startServer(dir, 'partner', partnerConf, {
      ...SECRETS,
      ACME_HUB_URL: `nats-leaf://acme-leaf:${SECRETS.ACME_LEAF_PASSWORD}@127.0.0.1:${leafPort}`,
    });
    const hubUrl = `nats://127.0.0.1:${hubPort}`;
    const acmeUrl = `nats://127.0.0.1:${acmePort}`;

    // The stand-in agent behind acme.
    const pushes: string[] = [];
    const agent: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        pushes.push((JSON.parse(body) as { eventId: string }).eventId);
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
    registerCleanup(() => new Promise<void>((r) => agent.close(() => r())));

    // Sidecars on the example net-sync configs, with their own keys and the test's ports.
    const [orgDir, acmeDir] = [tempDir('fed-org'), tempDir('fed-acme')];
    const orgConfig = join(orgDir, 'org.yaml');
    const acmeConfig = join(acmeDir, 'acme.yaml');
    const org = new SidecarProcess({
      natsUrl: hubUrl,
      name: 'org',
      dir: orgDir,
      configFile: orgConfig,
      env: { NET_SYNC_NATS_PASS: SECRETS.ORG_PASSWORD },
    });
    const acme = new SidecarProcess({
      natsUrl: acmeUrl,
      name: 'acme',
      dir: acmeDir,
      configFile: acmeConfig,
      env: { NET_SYNC_NATS_PASS: SECRETS.ACME_PASSWORD },
    });
    registerCleanup(async () => void (await org.kill('SIGKILL')));
    registerCleanup(async () => void (await acme.kill('SIGKILL')));
    const [orgKey, acmeKey] = await Promise.all([keygen(org.keyFile, org.dir), keygen(acme.keyFile, acme.dir)]);
    const localise = (file: string, port: number, extra: (s: string) => string = (s) => s): string =>
      extra(
        readFileSync(join(EXAMPLES, file), 'utf8')
          .replaceAll(EXAMPLE_ORG_KEY, orgKey)
          .replaceAll(EXAMPLE_ACME_KEY, acmeKey)
          .replace(/127\.0\.0\.1:422[23]/, `127.0.0.1:${port}`),
      );
    writeFileSync(orgConfig, localise('org.yaml', hubPort));
    writeFileSync(
      acmeConfig,
      localise('acme.yaml', acmePort, (s) =>
        s.replace('http://127.0.0.1:8080/federation', `http://127.0.0.1:${(agent.address() as AddressInfo).port}/f`),
      ),
    );

    // streams apply, then verify, on both sides: FEDERATION and ACME_FED with their sources.
    for (const [s, cfg] of [
      [org, orgConfig],
      [acme, acmeConfig],
    ] as const) {
      const applied = await runCliProcess(['streams', 'apply', '--config', cfg, '--json'], s.env(), s.dir);
      expect(applied.code, applied.stdout + applied.stderr).toBe(0);
      const verified = await runCliProcess(['streams', 'verify', '--config', cfg, '--json'], s.env(), s.dir);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    }
    await Promise.all([org.start(), acme.start()]);

    // Events org → acme (sourced into ACME_FED), receipts acme → org (sourced into FEDERATION).
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await org.post('/v1/federation/events', { partner: 'acme', type: 'order.created', payload: { i } });
      expect(r.status, JSON.stringify(r.json)).toBe(202);
      ids.push(r.json.eventId as string);
    }
    await waitFor(
      async () => (await org.get('/v1/federation/partners')).json.partners[0].acked === 5,
      'five receipts sourced back and applied at org',
      30_000,
    );
    // A receipt says "recorded", not "pushed" (docs/federation.md): the pushes may finish after it.
    await waitFor(() => pushes.length >= ids.length, 'five pushes to the agent', 30_000);
    expect([...pushes].sort()).toEqual([...ids].sort());
    const orgNc = await connect({ servers: hubUrl, user: 'org', pass: SECRETS.ORG_PASSWORD });
    registerCleanup(async () => void (await orgNc.close()));
    const acmeNc = await connect({ servers: acmeUrl, user: 'acme', pass: SECRETS.ACME_PASSWORD });
    registerCleanup(async () => void (await acmeNc.close()));
    const acmeStream = await (await acmeNc.jetstreamManager()).streams.info('ACME_FED');
    expect(acmeStream.sources?.[0]).toMatchObject({ name: 'FEDERATION', external: { api: '$JS.org.API' } });
    const orgStream = await (await orgNc.jetstreamManager()).streams.info('FEDERATION');
    // Ours: 5 events; acme's: 5 receipts, each stored once (sourced only, never live as well).
    expect(orgStream.state.messages).toBe(10);
    expect(acmeStream.state.messages).toBe(10);
    const audit = await runCliProcess(['federation', 'verify', '--config', orgConfig, '--json'], org.env(), org.dir);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    expect(JSON.parse(audit.stdout)).toMatchObject({ events: 5, verified: 5, acked: 5, badAcks: [], duplicates: [] });

    // Confinement: from acme's account, only consumer-create on its own filter reaches our JetStream.
    const create = (filter: string, inSubject = filter) =>
      answer(acmeNc, `$JS.org.API.CONSUMER.CREATE.FEDERATION.probe.${inSubject}`, {
        stream_name: 'FEDERATION',
        config: { name: 'probe', filter_subject: filter, deliver_subject: 'deliver.acme.probe' },
      });
    expect(await create('root.solar.federation.outbound.events.beta')).toMatch(/^no answer/);
    expect(await create('root.solar.command.>')).toMatch(/^no answer/);
    expect(await create('root.solar.federation.>', 'root.solar.federation.outbound.events.acme')).toContain(
      '"err_code":10131',
    );
    expect(await answer(acmeNc, '$JS.org.API.STREAM.INFO.FEDERATION', {})).toMatch(/^no answer/);
    expect(await answer(acmeNc, '$JS.org.API.CONSUMER.CREATE.FEDERATION', {})).toMatch(/^no answer/);
  });
});
