/**
 * net-sync end to end: (c) through the library API, (c′) through HTTP, (d) replay of a
 * backlog accumulated while NATS was down. Each on a fresh nats-server and SQLite file.
 */
import { Agent, request } from 'node:http';
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
import { intentBody, startBenchSidecar } from './sidecar-harness.js';

/** Concurrent HTTP requests (and keep-alive sockets) of (c′). */
export const HTTP_CONCURRENCY = 64;

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

/** (c′) POST /v1/intents over node:http with a keep-alive Agent and 64 requests in flight. */
export function measureHttp(sizes: Sizes): Promise<Sample> {
  return withNats((server) =>
    withTempDir(async (dir) => {
      const bench = await startBenchSidecar(dir, server.url, true);
      const agent = new Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
      try {
        const [host, port] = splitAddress(bench.sidecar.api.boundAddress);
        const body = Buffer.from(JSON.stringify(intentBody()));
        const post = (): Promise<void> => postIntent(agent, host, port, body);
        await within('(c′) warm-up', budgetMs(sizes.warmup), closedLoop(sizes.warmup, HTTP_CONCURRENCY, post));
        await bench.waitCommitted(sizes.warmup, budgetMs(sizes.warmup));
        const started = performance.now();
        await within('(c′) requests', budgetMs(sizes.http, 500), closedLoop(sizes.http, HTTP_CONCURRENCY, post));
        const acceptSeconds = (performance.now() - started) / 1_000;
        await bench.waitCommitted(sizes.warmup + sizes.http, budgetMs(sizes.http, 500));
        return sampleSince(sizes.http, started, {
          acceptOnlyRate: Math.round(sizes.http / acceptSeconds),
          client: `node:http Agent keepAlive, ${HTTP_CONCURRENCY} in flight`,
        });
      } finally {
        agent.destroy();
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

function postIntent(agent: Agent, host: string, port: number, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host,
        port,
        method: 'POST',
        path: '/v1/intents',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 202 ? resolve() : reject(new Error(`POST /v1/intents: HTTP ${res.statusCode}`)),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
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
