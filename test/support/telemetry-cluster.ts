/**
 * Helpers for telemetry tests over real sidecar processes: read a metric, emit points through
 * `POST /v1/telemetry` at a steady pace, read the summaries back from JetStream, and the exact-
 * accounting oracle (each key once, counts add up to what was accepted).
 */
import { expect } from 'vitest';
import type { TelemetrySummary } from '../../src/core/telemetry-summary.js';
import type { ScannedMessage } from '../../src/nats/index.js';
import type { SidecarProcess } from './sidecar-process.js';
import { readStream } from './stream-contents.js';
import { waitFor } from './wait-for.js';

/** Pace of {@link emitPoints}: one POST per origin every 100 ms. */
export const EMIT_TICK_MS = 100;
const decoder = new TextDecoder();

/** Value of an unlabelled (or fully spelled `name{…}`) metric on a sidecar's /metrics; NaN when absent. */
export async function metric(s: SidecarProcess, name: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

/** What {@link emitPoints} got accepted. */
export interface Emitted {
  /** Points accepted (202) in all. */
  accepted: number;
  /** Points accepted per origin, in the order of `origins`. */
  byOrigin: number[];
  /** Points accepted per `<origin index>/<window start>/<metric>`, 1 s windows of the `ts` the test set. */
  byWindow: Map<string, number>;
}

/**
 * Posts `total` points spread over `origins` and `durationMs` (metrics `<prefix>.delta` and
 * `<prefix>.load`, tag `agent: a<i>`, `ts` = the test's clock at the post); `onTick` runs before
 * each tick's posts. Every post must be accepted.
 */
export async function emitPoints(
  origins: SidecarProcess[],
  total: number,
  durationMs: number,
  prefix: string,
  onTick?: (tick: number) => Promise<void>,
): Promise<Emitted> {
  const ticks = durationMs / EMIT_TICK_MS;
  const perPost = Math.ceil(total / ticks / origins.length);
  const out: Emitted = { accepted: 0, byOrigin: origins.map(() => 0), byWindow: new Map() };
  let sent = 0;
  const start = Date.now();
  for (let t = 0; t < ticks && sent < total; t++) {
    await onTick?.(t);
    const posts = origins.map((s, i) => {
      const n = Math.min(perPost, total - sent);
      sent += n;
      if (n <= 0) return Promise.resolve();
      const ts = Date.now();
      const points = Array.from({ length: n }, (_, k) => ({
        metric: k % 2 === 0 ? `${prefix}.delta` : `${prefix}.load`,
        value: Math.random() * 100,
        tags: { agent: `a${i}` },
        ts,
      }));
      return s.post('/v1/telemetry', { points }).then((r) => {
        expect(r.status, JSON.stringify(r.json)).toBe(202);
        const accepted = r.json.accepted as number;
        out.accepted += accepted;
        out.byOrigin[i]! += accepted;
        const window = ts - (ts % 1_000);
        for (const p of points)
          out.byWindow.set(`${i}/${window}/${p.metric}`, (out.byWindow.get(`${i}/${window}/${p.metric}`) ?? 0) + 1);
      });
    });
    await Promise.all(posts);
    const wait = start + (t + 1) * EMIT_TICK_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // pacing the workload, not waiting on a condition
  }
  return out;
}

/**
 * Summaries of metrics `<metricPrefix>.*` in the stream, with the stored messages (headers) and
 * copies per Nats-Msg-Id.
 */
export async function readSummaries(
  natsUrl: string,
  metricPrefix: string,
): Promise<{ list: TelemetrySummary[]; messages: ScannedMessage[]; ids: Map<string, number> }> {
  const { messages, idCounts } = await readStream(natsUrl, `root.solar.telemetry.${metricPrefix}.>`);
  return { list: messages.map((m) => JSON.parse(decoder.decode(m.data)) as TelemetrySummary), messages, ids: idCounts };
}

/** Waits until the summaries of `<metricPrefix>.*` in the stream count `points` points, and returns them. */
export async function waitForSummaries(
  natsUrl: string,
  metricPrefix: string,
  points: number,
  timeoutMs = 20_000,
): Promise<Awaited<ReturnType<typeof readSummaries>>> {
  let got: Awaited<ReturnType<typeof readSummaries>> = { list: [], messages: [], ids: new Map() };
  await waitFor(
    async () => {
      got = await readSummaries(natsUrl, metricPrefix);
      return got.list.reduce((n, s) => n + s.count, 0) >= points;
    },
    `summaries of ${points} points`,
    timeoutMs,
    200,
  );
  return got;
}

/** The key two scouts must agree on for one summary: origin, epoch, window, metric, tags, part, late. */
export function summaryKey(s: TelemetrySummary): string {
  return `${s.origin}/${s.epoch}/${s.windowStart}/${s.metric}/${JSON.stringify(s.tags)}/${s.part}/${s.late}`;
}

/** Each Nats-Msg-Id and each summary key once, no straggler, aligned windows, counts adding up to `expected`. */
export function assertExact(list: TelemetrySummary[], ids: Map<string, number>, expected: number): void {
  for (const [id, n] of ids) expect(n, `copies of ${id}`).toBe(1);
  const keys = list.map(summaryKey);
  expect(new Set(keys).size, 'each (origin, window, metric) once').toBe(keys.length);
  expect(list.reduce((n, s) => n + s.count, 0)).toBe(expected);
  for (const s of list) {
    expect(s.windowStart % 1_000, `window ${s.windowStart} aligned`).toBe(0);
    expect(s.straggler, `straggler window ${s.windowStart}`).toBe(false);
  }
}
