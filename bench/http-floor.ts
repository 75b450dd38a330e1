/**
 * The floor under (c′) (issue 15, step 4), a probe beside `npm run bench`: the same client thread,
 * 64 in flight, one intent per request, against servers that do more and more of the sidecar's
 * work, interleaved:
 *   (c′ raw) node:http alone: read the body, JSON.parse, answer 202 (bench/netsync.ts);
 *   api    the real ApiServer (lean path, auth, body check, errors) whose backend answers at once;
 *   (c′)   the sidecar: durable append by group commit, publish, mark (bench/netsync.ts).
 * Each with the CPU µs per request of the server (main) thread and of the other threads (the client).
 * Usage: node --import ./dist/src/polyfills.js dist/bench/http-floor.js [--count N] [--reps N] [--no-sidecar]
 */
import { ApiServer } from '../src/api/api-server.js';
import { silentLogger } from '../src/observability/logger.js';
import { FULL_SIZES, sampleSince, type Sample, type Sizes } from './common.js';
import { HTTP_CONCURRENCY, mainThreadCpuUs, measureHttp, measureRawHttp, postFromThread } from './netsync.js';
import { intentBody } from './sidecar-harness.js';

/** The real ApiServer with a backend that accepts at once: the HTTP layer's own cost. */
async function measureApiNoop(sizes: Sizes): Promise<Sample> {
  const api = new ApiServer({
    listen: '127.0.0.1:0',
    maxPayloadBytes: 1_048_576,
    limits: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxConnections: 1_024 },
    logger: silentLogger(),
    backend: {
      acceptIntent: async () => ({ correlationId: '01JBENCHBENCHBENCHBENCH0000', state: 'pending-commit' }),
      getIntent: () => undefined,
      readiness: () => ({ ready: true, checks: {} }),
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
      status: async () => ({}),
    },
  });
  await api.start();
  try {
    const body = Buffer.from(JSON.stringify(intentBody()));
    await postFromThread(api.boundAddress, body, sizes.warmup, HTTP_CONCURRENCY);
    const cpu0 = process.cpuUsage();
    const main0 = mainThreadCpuUs();
    const started = performance.now();
    await postFromThread(api.boundAddress, body, sizes.http, HTTP_CONCURRENCY);
    const main = mainThreadCpuUs() - main0;
    const cpu = process.cpuUsage(cpu0);
    return sampleSince(sizes.http, started, {
      serverCpuUs: Math.round(main / sizes.http),
      otherCpuUs: Math.round((cpu.user + cpu.system - main) / sizes.http),
    });
  } finally {
    await api.stop();
  }
}

const fmt = (s: Sample): string =>
  `${Math.round(s.rate)}/s (CPU per request: server ${s.extra?.['serverCpuUs']} µs, client ${s.extra?.['otherCpuUs']} µs)`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const count = Number(args.includes('--count') ? args[args.indexOf('--count') + 1] : 20_000);
  const reps = Number(args.includes('--reps') ? args[args.indexOf('--reps') + 1] : 3);
  const sizes: Sizes = { ...FULL_SIZES, warmup: 2_000, http: count };
  for (let i = 0; i < reps; i++) {
    const raw = await measureRawHttp(sizes);
    const api = await measureApiNoop(sizes);
    const c2 = args.includes('--no-sidecar') ? 'skipped' : fmt(await measureHttp(sizes));
    process.stdout.write(`rep ${i + 1}: (c′ raw) node:http ${fmt(raw)}; ApiServer no-op ${fmt(api)}; (c′) ${c2}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`http-floor failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
