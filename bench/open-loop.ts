/**
 * An open-loop load for the inbox latencies: command `i` is sent at `t0 + i / rate` whatever the
 * earlier sends did, and its latency runs from that scheduled time to the agent's receipt, so a
 * stall counts against us instead of slowing the load (no coordinated omission).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { quantile, waitUntil } from './common.js';

/** What {@link openLoop} drives. */
export interface OpenLoopOptions {
  /** Commands per second offered. */
  rate: number;
  seconds: number;
  /** Sends command `i`; resolves with the correlation ID the agent will see, undefined when refused. */
  send(i: number): Promise<string | undefined>;
  /** `performance.now()` of the agent's first receipt of `id`, if it came. */
  receivedAt(id: string): number | undefined;
  /** `performance.now()` at which the stream stored `id` (its stream timestamp), if known. */
  storedAt?(id: string): number | undefined;
  /** Copies the agent received beyond the first, so far. */
  duplicates(): number;
  /** How long to wait after the last send for the agent to receive everything. */
  settleMs: number;
}

/** Figures of one open-loop run; latencies in ms. */
export interface OpenLoopFigures {
  offeredRate: number;
  achievedRate: number;
  sent: number;
  /** Sends that resolved with an ID (published, or 202 from the API). */
  accepted: number;
  /** Sends that failed or were refused. */
  refused: number;
  received: number;
  /** Accepted, never received within `settleMs`. */
  lost: number;
  duplicates: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** p50 of the first and of the last quarter of the sends: a growing backlog shows as a rise. */
  p50FirstQuarterMs: number;
  p50LastQuarterMs: number;
  /** Scheduled time → the send resolved (PubAck, or the API's 202). */
  sendP50Ms: number;
  sendP99Ms: number;
  /** Scheduled time → stored in the stream, and stored → agent (stream timestamps have ms resolution). */
  storedP50Ms: number;
  storedP99Ms: number;
  deliveredP50Ms: number;
  deliveredP99Ms: number;
}

/** Runs the load; every loop is bounded in count and in time. */
export async function openLoop(opts: OpenLoopOptions): Promise<OpenLoopFigures> {
  const total = Math.max(1, Math.round(opts.rate * opts.seconds));
  const intervalMs = 1_000 / opts.rate;
  const accepted: Array<{ id: string; at: number }> = [];
  const sendMs: number[] = [];
  let refused = 0;
  const t0 = performance.now();
  const deadline = t0 + opts.seconds * 3_000 + 10_000;
  let sent = 0;
  while (sent < total) {
    const now = performance.now();
    if (now > deadline) throw new Error(`open loop: sending fell behind (${sent}/${total})`);
    const due = Math.min(total, Math.floor((now - t0) / intervalMs) + 1);
    for (; sent < due; sent++) {
      const at = t0 + sent * intervalMs;
      opts.send(sent).then(
        (id) => {
          sendMs.push(performance.now() - at);
          if (id === undefined) refused++;
          else accepted.push({ id, at });
        },
        () => refused++,
      );
    }
    await sleep(Math.max(1, t0 + sent * intervalMs - performance.now()));
  }
  const sendSeconds = (performance.now() - t0) / 1_000;
  await waitUntil('open loop: every send answered', () => accepted.length + refused >= total, 30_000, 5);
  const arrived = (): number => accepted.filter((a) => opts.receivedAt(a.id) !== undefined).length;
  await waitUntil('open loop: agent receipts', () => arrived() >= accepted.length, opts.settleMs, 20).catch(
    () => undefined, // what never came is reported as lost
  );
  const latencies: number[] = [];
  const stored: number[] = [];
  const delivered: number[] = [];
  accepted.sort((a, b) => a.at - b.at);
  const quarter = (from: number): number[] =>
    accepted.slice(from, from + Math.ceil(accepted.length / 4)).flatMap((a) => {
      const r = opts.receivedAt(a.id);
      return r === undefined ? [] : [r - a.at];
    });
  for (const a of accepted) {
    const r = opts.receivedAt(a.id);
    if (r !== undefined) latencies.push(r - a.at);
    const s = opts.storedAt?.(a.id);
    if (s === undefined || r === undefined) continue;
    stored.push(s - a.at);
    delivered.push(r - s);
  }
  return {
    offeredRate: opts.rate,
    achievedRate: Math.round((total / sendSeconds) * 10) / 10,
    sent: total,
    accepted: accepted.length,
    refused,
    received: latencies.length,
    lost: accepted.length - latencies.length,
    duplicates: opts.duplicates(),
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: quantile(latencies, 1),
    p50FirstQuarterMs: quantile(quarter(0), 0.5),
    p50LastQuarterMs: quantile(quarter(accepted.length - Math.ceil(accepted.length / 4)), 0.5),
    sendP50Ms: quantile(sendMs, 0.5),
    sendP99Ms: quantile(sendMs, 0.99),
    storedP50Ms: quantile(stored, 0.5),
    storedP99Ms: quantile(stored, 0.99),
    deliveredP50Ms: quantile(delivered, 0.5),
    deliveredP99Ms: quantile(delivered, 0.99),
  };
}
