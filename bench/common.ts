/**
 * Shared parts of the benchmark: sizes, payloads, the stream every measurement publishes
 * into, fresh nats-server/SQLite fixtures, bounded waits and small statistics.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildCommandRow } from '../src/core/command-message.js';
import type { NewOutboxRow } from '../src/core/intent.js';
import { defaultStreams } from '../src/core/stream-spec.js';
import { NatsServerProcess } from '../src/devkit/nats-server-process.js';
import { toStreamConfig } from '../src/nats/stream-config.js';
import type { StreamConfig } from 'nats';

/** Bytes of every payload (the raw message body, or the agent's JSON payload for net-sync). */
export const PAYLOAD_BYTES = 256;
/** PubAcks (or accepts) kept in flight by the closed-loop measurements. */
export const WINDOW = 1_024;
/** Subject prefix the sidecar runs under; the default taxonomy. */
export const PREFIX = 'root.solar';
/** Subject of the raw baselines; captured by the same COMMANDS stream net-sync uses. */
export const RAW_SUBJECT = `${PREFIX}.command.bench.raw`;
/** Subject of net-sync's intents. */
export const INTENT_SUBJECT = `${PREFIX}.command.bench.intent`;

/** Counts of one run; `--quick` shrinks them for the smoke test. */
export interface Sizes {
  warmup: number;
  natsJs: number;
  pipelined: number;
  sqliteBatched: number;
  sqlitePerRow: number;
  netsync: number;
  http: number;
  replay: number;
  latencySeconds: number;
  rssIntents: number;
  /** Event envelopes received per (g) repetition. */
  federationReceive: number;
  /** Messages of (l), leaf ingest (and of its latency pass). */
  leaf: number;
  /** Messages (intents) sent across an outage (leaf and ours), and how long the server stays down. */
  outage: number;
  outageSeconds: number;
  repeats: number;
}

/** Full run: each measurement takes a few seconds at the rates in docs/benchmarks.md. */
export const FULL_SIZES: Sizes = {
  warmup: 5_000,
  natsJs: 100_000,
  pipelined: 300_000,
  sqliteBatched: 500_000,
  sqlitePerRow: 10_000,
  netsync: 100_000,
  http: 30_000,
  replay: 100_000,
  latencySeconds: 4,
  rssIntents: 1_000_000,
  federationReceive: 1_000,
  leaf: 100_000,
  outage: 40_000,
  outageSeconds: 3,
  repeats: 3,
};

/** Smoke test: every path once, small. */
export const QUICK_SIZES: Sizes = {
  warmup: 200,
  natsJs: 2_000,
  pipelined: 4_000,
  sqliteBatched: 5_000,
  sqlitePerRow: 200,
  netsync: 2_000,
  http: 500,
  replay: 2_000,
  latencySeconds: 1,
  rssIntents: 5_000,
  federationReceive: 300,
  leaf: 2_000,
  outage: 2_000,
  outageSeconds: 1,
  repeats: 1,
};

/** One repetition's measured figure. */
export interface Sample {
  /** Messages (or rows) per second. */
  rate: number;
  count: number;
  seconds: number;
  /** Anything else worth keeping with the sample. */
  extra?: Record<string, number | string>;
}

/** A fixed 256-byte binary payload for the raw baselines. */
export function rawPayload(): Uint8Array {
  const b = new Uint8Array(PAYLOAD_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/** An agent payload whose compact JSON is exactly 256 bytes (a quoted string). */
export function jsonPayload(): string {
  return 'x'.repeat(PAYLOAD_BYTES - 2);
}

const BENCH_PAYLOAD = jsonPayload();

/**
 * The outbox row the intake would build for bench intent `n` (ID `01J<tag><n>`, a ULID's length):
 * the 256-byte JSON payload on {@link INTENT_SUBJECT}, created now. For the rows that bypass the API.
 */
export function benchCommandRow(tag: string, n: number): NewOutboxRow {
  return buildCommandRow({
    correlationId: `01J${tag}${String(n).padStart(23 - tag.length, '0')}`,
    subject: INTENT_SUBJECT,
    payload: BENCH_PAYLOAD,
    origin: '12D3KooWBenchBenchBenchBenchBenchBenchBenchBenchBench',
    traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
    createdAtMs: Date.now(),
  });
}

/** The COMMANDS stream exactly as the sidecar creates it, for the raw baselines. */
export function commandsStreamConfig(): Partial<StreamConfig> & { name: string } {
  const spec = defaultStreams(PREFIX).find((s) => s.name === 'COMMANDS');
  if (spec === undefined) throw new Error('no COMMANDS stream in the default spec');
  return toStreamConfig(spec);
}

/** A fresh nats-server; `fn` runs with it and the server is disposed (stopped by PID) after. */
export async function withNats<T>(fn: (server: NatsServerProcess) => Promise<T>): Promise<T> {
  const server = await NatsServerProcess.start();
  try {
    return await fn(server);
  } finally {
    await server.dispose();
  }
}

/** A fresh temp dir; removed after `fn`. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'net-sync-bench-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls `cond` every `everyMs` until true; throws after `timeoutMs` naming `what`. */
export async function waitUntil(what: string, cond: () => boolean, timeoutMs: number, everyMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Runs `total` calls of `op(i)` with at most `concurrency` outstanding: `concurrency`
 * workers, each awaiting its previous call. Every loop is bounded by `total`.
 */
export async function closedLoop(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
  offset = 0,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) await op(offset + next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

/** Rejects with a message naming `what` when `p` takes longer than `ms`. */
export async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench: ${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A time budget for `count` messages at no less than `minRate` per second, plus slack. */
export function budgetMs(count: number, minRate = 2_000): number {
  return 30_000 + (count / minRate) * 1_000;
}

/** The median of the samples' rates (the middle one; lower middle for an even count). */
export function medianSample(samples: readonly Sample[]): Sample {
  const sorted = [...samples].sort((a, b) => a.rate - b.rate);
  const s = sorted[Math.floor((sorted.length - 1) / 2)];
  if (s === undefined) throw new Error('no samples');
  return s;
}

/** The q-quantile (0..1) of `values` by nearest rank; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}

/** A sample from a count and a start time taken with performance.now(). */
export function sampleSince(count: number, startedMs: number, extra?: Sample['extra']): Sample {
  const seconds = (performance.now() - startedMs) / 1_000;
  return { rate: count / seconds, count, seconds, ...(extra === undefined ? {} : { extra }) };
}
