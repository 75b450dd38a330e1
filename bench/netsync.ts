/**
 * net-sync end to end: (c) through the library API, (c′) through HTTP, (d) replay of a
 * backlog accumulated while NATS was down. Each on a fresh nats-server and SQLite file.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { NatsServerProcess } from '../src/devkit/nats-server-process.js';
import {
  budgetMs,
  closedLoop,
  sampleSince,
  waitUntil,
  WINDOW,
  withNats,
  withTempDir,
  within,
  type Sample,
  type Sizes,
} from './common.js';
import type { HttpClientJob } from './http-client-thread.js';
import { intentBody, startBenchSidecar } from './sidecar-harness.js';

/** Concurrent HTTP requests (and keep-alive sockets) of (c′). */
export const HTTP_CONCURRENCY = 64;
/** Intents per request of (c″), the batch form. */
export const HTTP_BATCH_SIZE = 256;
/** Batches in flight in (c″): 4 × 256 = 1,024 intents outstanding, (c)'s window. */
export const HTTP_BATCH_CONCURRENCY = 4;

/** (c) `intake.accept()` with ~1,024 outstanding, timed until every row is committed. */
export function measureLibrary(sizes: Sizes): Promise<Sample> {
  return withNats((server) =>
    withTempDir(async (dir) => {
      const bench = await startBenchSidecar(dir, server.url, true);
      try {
        await within('(c) warm-up', budgetMs(sizes.warmup), closedLoop(sizes.warmup, WINDOW, bench.accept));
        await bench.waitCommitted(sizes.warmup, budgetMs(sizes.warmup));
        const started = performance.now();
        await within('(c) accepts', budgetMs(sizes.netsync), closedLoop(sizes.netsync, WINDOW, bench.accept));
        const acceptSeconds = (performance.now() - started) / 1_000;
        await bench.waitCommitted(sizes.warmup + sizes.netsync, budgetMs(sizes.netsync));
        return sampleSince(sizes.netsync, started, { acceptOnlyRate: Math.round(sizes.netsync / acceptSeconds) });
      } finally {
        await bench.stop();
      }
    }),
  );
}

/**
 * Sends `count` POSTs of `body` from a client thread (the agent is another process in a deployment,
 * so its HTTP client must not share the sidecar's event loop), `concurrency` in flight.
 */
export function postFromThread(
  address: string | null,
  body: Buffer,
  count: number,
  concurrency: number,
): Promise<{ clientBusy: number }> {
  const [host, port] = splitAddress(address);
  const job: HttpClientJob = { host, port, body, count, concurrency };
  const worker = new Worker(new URL('./http-client-thread.js', import.meta.url), { workerData: job });
  return new Promise<{ clientBusy: number }>((resolve, reject) => {
    worker.once('message', (m: { done?: true; clientBusy?: number; error?: string }) =>
      m.done === true
        ? resolve({ clientBusy: m.clientBusy ?? Number.NaN })
        : reject(new Error(m.error ?? 'client thread failed')),
    );
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`client thread exited with ${code}`)));
  }).finally(() => void worker.terminate());
}

/**
 * CPU time of the main thread (the server's event loop), µs, from /proc (Linux; NaN elsewhere):
 * unlike the loop's busy share it does not count the time the thread waited for a core.
 */
export function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, fields 14 and 15 of stat, in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

/**
 * Times `count` POSTs from a client thread: the rate, and CPU µs per request of the main thread
 * (the server) and of every other thread (mostly the client; also libuv's and V8's helpers).
 */
async function timedPosts(
  address: string | null,
  body: Buffer,
  count: number,
  concurrency: number,
): Promise<{ started: number; serverCpuUs: number; otherCpuUs: number }> {
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuUs();
  const started = performance.now();
  await postFromThread(address, body, count, concurrency);
  const main = mainThreadCpuUs() - main0;
  const cpu = process.cpuUsage(cpu0);
  const round = (us: number): number => Math.round(us / count);
  return { started, serverCpuUs: round(main), otherCpuUs: round(cpu.user + cpu.system - main) };
}

/** What every bench server answers: the accepted answer of one intent. */
const RAW_ANSWER = JSON.stringify({ correlationId: '01JBENCHBENCHBENCHBENCH0000', state: 'pending-commit' });

/**
 * (c′ raw) The raw HTTP baseline of (c′): a bare node:http server on the main thread that reads each
 * body, JSON-parses it and answers 202 with a correlation ID, fed by the same client thread, one
 * intent per request, 64 in flight. No durability, no NATS: what node:http costs on its own.
 */
export async function measureRawHttp(sizes: Sizes): Promise<Sample> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(202, { 'content-type': 'application/json; charset=utf-8', 'content-length': RAW_ANSWER.length });
      res.end(RAW_ANSWER);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const body = Buffer.from(JSON.stringify(intentBody()));
    await within(
      '(c′ raw) warm-up',
      budgetMs(sizes.warmup),
      postFromThread(address, body, sizes.warmup, HTTP_CONCURRENCY),
    );
    const t = await within(
      '(c′ raw) requests',
      budgetMs(sizes.http, 500),
      timedPosts(address, body, sizes.http, HTTP_CONCURRENCY),
    );
    return sampleSince(sizes.http, t.started, {
      serverCpuUs: t.serverCpuUs,
      otherCpuUs: t.otherCpuUs,
      client: `node:http Agent keepAlive on a thread, ${HTTP_CONCURRENCY} in flight`,
    });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

/** (c′) POST /v1/intents, one intent per request, 64 in flight from a client thread, keep-alive. */
export function measureHttp(sizes: Sizes): Promise<Sample> {
  return withNats((server) =>
    withTempDir(async (dir) => {
      const bench = await startBenchSidecar(dir, server.url, true);
      try {
        const address = bench.sidecar.api.boundAddress;
        const body = Buffer.from(JSON.stringify(intentBody()));
        const post = (n: number): Promise<unknown> => postFromThread(address, body, n, HTTP_CONCURRENCY);
        await within('(c′) warm-up', budgetMs(sizes.warmup), post(sizes.warmup));
        await bench.waitCommitted(sizes.warmup, budgetMs(sizes.warmup));
        const t = await within(
          '(c′) requests',
          budgetMs(sizes.http, 500),
          timedPosts(address, body, sizes.http, HTTP_CONCURRENCY),
        );
        const acceptSeconds = (performance.now() - t.started) / 1_000;
        await bench.waitCommitted(sizes.warmup + sizes.http, budgetMs(sizes.http, 500));
        return sampleSince(sizes.http, t.started, {
          acceptOnlyRate: Math.round(sizes.http / acceptSeconds),
          serverCpuUs: t.serverCpuUs,
          otherCpuUs: t.otherCpuUs,
          client: `node:http Agent keepAlive on a thread, ${HTTP_CONCURRENCY} in flight`,
        });
      } finally {
        await bench.stop();
      }
    }),
  );
}

/**
 * (c″) The batch form: POST /v1/intents with a JSON array of 256 intents, 4 requests in flight from
 * a client thread, timed until every row is committed. Each request must answer 202 (all accepted).
 */
export function measureHttpBatch(sizes: Sizes): Promise<Sample> {
  return withNats((server) =>
    withTempDir(async (dir) => {
      const bench = await startBenchSidecar(dir, server.url, true);
      try {
        const address = bench.sidecar.api.boundAddress;
        const body = Buffer.from(JSON.stringify(Array.from({ length: HTTP_BATCH_SIZE }, intentBody)));
        const post = (n: number): Promise<unknown> => postFromThread(address, body, n, HTTP_BATCH_CONCURRENCY);
        const batches = (n: number): number => Math.max(1, Math.round(n / HTTP_BATCH_SIZE));
        const warm = batches(sizes.warmup);
        await within('(c″) warm-up', budgetMs(sizes.warmup), post(warm));
        await bench.waitCommitted(warm * HTTP_BATCH_SIZE, budgetMs(sizes.warmup));
        const n = batches(sizes.netsync);
        const count = n * HTTP_BATCH_SIZE;
        const started = performance.now();
        await within('(c″) requests', budgetMs(count), post(n));
        const acceptSeconds = (performance.now() - started) / 1_000;
        await bench.waitCommitted((warm + n) * HTTP_BATCH_SIZE, budgetMs(count));
        return sampleSince(count, started, {
          acceptOnlyRate: Math.round(count / acceptSeconds),
          client: `node:http Agent keepAlive on a thread, ${HTTP_BATCH_CONCURRENCY} batches of ${HTTP_BATCH_SIZE} in flight`,
        });
      } finally {
        await bench.stop();
      }
    }),
  );
}

function splitAddress(address: string | null): [string, number] {
  if (address === null) throw new Error('API not bound');
  const idx = address.lastIndexOf(':');
  return [address.slice(0, idx), Number(address.slice(idx + 1))];
}

/**
 * (d) Warm up with NATS up, stop the server (by PID), accept `sizes.replay` intents while it
 * is down, restart it on the same port and store, and time from the moment the publisher is
 * ready again until every row is committed. The reconnect delay is reported apart.
 */
export function measureReplay(sizes: Sizes): Promise<Sample> {
  return withNats((server) =>
    withTempDir(async (dir) => {
      const bench = await startBenchSidecar(dir, server.url, true);
      try {
        await within('(d) warm-up', budgetMs(sizes.warmup), closedLoop(sizes.warmup, WINDOW, bench.accept));
        await bench.waitCommitted(sizes.warmup, budgetMs(sizes.warmup));
        await server.stop();
        await waitUntil('publisher down', () => bench.sidecar.publisher.state !== 'connected', 15_000, 10);
        const filled = performance.now();
        await within('(d) fill', budgetMs(sizes.replay), closedLoop(sizes.replay, WINDOW, bench.accept));
        const fillRate = Math.round(sizes.replay / ((performance.now() - filled) / 1_000));
        const pending = bench.sidecar.outbox.counts('command')['pending-commit'];
        if (pending !== sizes.replay) throw new Error(`(d): ${pending} rows pending, expected ${sizes.replay}`);
        return await replayAfterRestart(server, bench, sizes, fillRate);
      } finally {
        await bench.stop();
      }
    }),
  );
}

async function replayAfterRestart(
  server: NatsServerProcess,
  bench: Awaited<ReturnType<typeof startBenchSidecar>>,
  sizes: Sizes,
  fillRate: number,
): Promise<Sample> {
  await server.restart();
  const up = performance.now();
  await waitUntil('publisher ready after restart', () => bench.sidecar.publisher.state === 'connected', 30_000, 1);
  const ready = performance.now();
  await bench.waitCommitted(sizes.warmup + sizes.replay, budgetMs(sizes.replay));
  const sample = sampleSince(sizes.replay, ready, { fillRate, reconnectMs: Math.round(ready - up) });
  return {
    ...sample,
    extra: { ...sample.extra, rateFromServerUp: Math.round(sizes.replay / ((performance.now() - up) / 1_000)) },
  };
}
