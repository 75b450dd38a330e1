/**
 * Lag against the SLAs of seed 000 (docs/seeds.md, its operational checklist): commit lag under 500 ms for
 * command subjects, under 2 s for telemetry. Pure: the figures come in, a verdict comes out.
 *
 * Commit lag of one row = time from acceptance (the row's creation) to its PubAck. Two figures
 * judge it per kind:
 * - the age of the oldest row not yet committed (catches a stalled pipeline at once, before
 *   any commit is observed), and
 * - the p99 of commit latency over a recent window, read from cumulative histogram buckets
 *   (catches a slow pipeline that still moves). The histogram has a bucket bound at each SLA,
 *   so "p99 within the SLA" is exact: at most 1% of the window's commits exceeded it.
 */
import type { RowKind } from './intent.js';

/** The SLA per kind, ms (seed 000, docs/seeds.md). */
export const SLA_MS: Readonly<Record<RowKind, number>> = { command: 500, telemetry: 2_000 };

/** Share of a window's commits allowed over the SLA: a p99 target. */
export const SLA_QUANTILE = 0.99;

/** Cumulative histogram buckets: `le` upper bound in seconds (Infinity for +Inf) → count. */
export type CumulativeBuckets = ReadonlyArray<readonly [le: number, count: number]>;

/** Commit latency over a window, from two cumulative snapshots. */
export interface WindowLatency {
  /** Commits observed in the window. */
  commits: number;
  /** Upper bucket bound holding the p99, ms; null with no commits, Infinity past the last bound. */
  p99Ms: number | null;
  /** Commits in the window slower than `slaMs`. */
  overSla: number;
}

/** Per-kind verdict. */
export interface KindLag {
  kind: RowKind;
  slaMs: number;
  /** Age of the oldest open row, ms (0 when none). */
  oldestPendingAgeMs: number;
  /** Open rows (proposed, pending-commit, in-flight). */
  pending: number;
  /** Commit latency over the recent window. */
  recent: WindowLatency & { windowMs: number };
  ok: boolean;
  /** Why not ok; empty when ok. */
  breaches: string[];
}

/**
 * Latency over the window between `before` (older snapshot, or empty for "since start") and
 * `after`, judged against `slaMs`. Bucket bounds must be sorted ascending; `slaMs` should be one
 * of them (otherwise `overSla` counts from the next bound up, so it errs on the lenient side).
 */
export function windowLatency(before: CumulativeBuckets, after: CumulativeBuckets, slaMs: number): WindowLatency {
  const prev = new Map(before.map(([le, n]) => [le, n]));
  const diff = after.map(([le, n]) => [le, Math.max(0, n - (prev.get(le) ?? 0))] as const);
  const commits = diff.length === 0 ? 0 : diff[diff.length - 1]![1];
  if (commits === 0) return { commits: 0, p99Ms: null, overSla: 0 };
  const rank = Math.ceil(commits * SLA_QUANTILE);
  const p99 = diff.find(([, n]) => n >= rank)?.[0] ?? Number.POSITIVE_INFINITY;
  const within = diff.filter(([le]) => le * 1000 <= slaMs).reduce((m, [, n]) => Math.max(m, n), 0);
  return {
    commits,
    p99Ms: Number.isFinite(p99) ? Math.round(p99 * 1000 * 1000) / 1000 : Number.POSITIVE_INFINITY,
    overSla: commits - within,
  };
}

/** Judges one kind: ok when the oldest open row is younger than the SLA and the window's p99 is within it. */
export function judgeLag(
  kind: RowKind,
  oldestPendingAgeMs: number,
  pending: number,
  recent: WindowLatency & { windowMs: number },
): KindLag {
  const slaMs = SLA_MS[kind];
  const breaches: string[] = [];
  if (oldestPendingAgeMs >= slaMs)
    breaches.push(`oldest pending ${kind} row is ${oldestPendingAgeMs} ms old (SLA < ${slaMs} ms)`);
  if (recent.commits > 0 && recent.overSla > recent.commits * (1 - SLA_QUANTILE)) {
    breaches.push(
      `${recent.overSla} of ${recent.commits} ${kind} commits in the last ${Math.round(recent.windowMs / 1000)} s ` +
        `took ≥ ${slaMs} ms (p99 ≤ ${recent.p99Ms} ms)`,
    );
  }
  return { kind, slaMs, oldestPendingAgeMs, pending, recent, ok: breaches.length === 0, breaches };
}
