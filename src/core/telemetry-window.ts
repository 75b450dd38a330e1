/**
 * Burst windows: how points are filed into windows, and the per-window accumulator.
 *
 * Alignment guarantee. Windows are aligned to wall-clock multiples of `windowMs` on the
 * point's own timestamp (`ts`), and the *origin* (the agent's sidecar) files every point when
 * it sends it: window, part (`floor(ordinal / windowMaxPoints)` of the point within its series
 * and window) and lateness. Scouts never decide where a point goes, they only merge what the
 * origin labelled. So two scouts that receive the same batches hold the same points under the
 * same keys, and the accumulator is order-independent (exact sum, sketch bins, min, max), which
 * makes their summaries byte-identical and lets `Nats-Msg-Id` dedupe give exact counts.
 *
 * Lateness. At send time `t` (origin clock) a point of window `w` is on time when `w` is not
 * after the current window and `t < w + windowMs + allowedLatenessMs`. Otherwise (very old, or
 * ahead of the origin's clock) it goes to a separate `late` series of the current window: still
 * counted, never dropped, and labelled the same way for every scout. A scout closes window `w`
 * at `w + windowMs + allowedLatenessMs + closeSlackMs` on its own clock; the slack covers
 * batching, gossip latency and clock skew between origin and scout. A batch that reaches a scout
 * after that (a stall longer than the slack) is still counted, in a `straggler` summary of that
 * scout (see TelemetryScout): that is the limit of the exactness guarantee.
 */
import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';
import type { TelemetrySeries } from './envelope.js';
import { ExactSum } from './exact-sum.js';
import type { TelemetryPoint } from './telemetry-point.js';

/**
 * Relative accuracy of the quantiles: DDSketch guarantees that a reported quantile is within
 * ±1 % of the true value of the same rank (`sorted[floor(q * (count - 1))]`).
 */
export const SKETCH_RELATIVE_ACCURACY = 0.01;
// 2,048 bins at 1 % span values over a ratio of e^40 before the lowest bins collapse: bounded
// memory (about 16 KiB per window at worst) without collapsing in any realistic window.
const SKETCH_BIN_LIMIT = 2_048;

/** How windows are cut. The same values must be configured on every node. */
export interface WindowRules {
  windowMs: number;
  /** How long after its end a window still takes points at the origin, ms. */
  allowedLatenessMs: number;
  /** Points per window part: a part with this many points is complete and flushes at once. */
  maxPoints: number;
}

/** Start of the `windowMs` window holding `ts` (aligned to multiples of `windowMs` since epoch). */
export function windowStartOf(ts: number, windowMs: number): number {
  return ts - (((ts % windowMs) + windowMs) % windowMs);
}

/** Start of the first `windowMs` window that begins at or after `ts`: a new scout's first whole window. */
export function firstWindowAfter(ts: number, windowMs: number): number {
  return windowStartOf(ts + windowMs - 1, windowMs);
}

/** Where the origin files a point of time `ts` sent at `sentAtMs` (both origin clock). */
export function assignWindow(
  ts: number,
  sentAtMs: number,
  rules: Pick<WindowRules, 'windowMs' | 'allowedLatenessMs'>,
): { window: number; late: boolean } {
  const current = windowStartOf(sentAtMs, rules.windowMs);
  const w = windowStartOf(ts, rules.windowMs);
  if (w <= current && sentAtMs < w + rules.windowMs + rules.allowedLatenessMs) return { window: w, late: false };
  return { window: current, late: true };
}

/** Canonical text of tags (keys sorted), for keys and hashes. */
export function tagsKey(tags: Readonly<Record<string, string>> | undefined): string {
  if (tags === undefined) return '';
  return Object.keys(tags)
    .sort()
    .map((k) => `${k}=${tags[k]!}`)
    .join('\u0001');
}

/**
 * The origin's side: files points into series chunks (window, part, late) and keeps the
 * per-(series, window) ordinals that define parts. Pure; state is bounded to the windows that
 * can still take points.
 */
export class SeriesAssigner {
  private readonly ordinals = new Map<string, { window: number; next: number }>();

  constructor(private readonly rules: WindowRules) {}

  /** Files `points` sent at `sentAtMs` into chunks, in first-seen order. */
  assign(points: readonly TelemetryPoint[], sentAtMs: number): TelemetrySeries[] {
    this.prune(sentAtMs);
    const chunks = new Map<string, { head: Omit<TelemetrySeries, 'ts' | 'v'>; ts: number[]; v: number[] }>();
    for (const p of points) {
      const { window, late } = assignWindow(p.ts, sentAtMs, this.rules);
      const series = `${p.metric}\u0000${tagsKey(p.tags)}\u0000${window}\u0000${late ? 'L' : ''}`;
      let ord = this.ordinals.get(series);
      if (ord === undefined) {
        ord = { window, next: 0 };
        this.ordinals.set(series, ord);
      }
      const part = Math.floor(ord.next++ / this.rules.maxPoints);
      const key = `${series}\u0000${part}`;
      let chunk = chunks.get(key);
      if (chunk === undefined) {
        const head: Omit<TelemetrySeries, 'ts' | 'v'> = { metric: p.metric, window, part };
        if (Object.keys(p.tags).length > 0) head.tags = p.tags;
        if (late) head.late = true;
        chunk = { head, ts: [], v: [] };
        chunks.set(key, chunk);
      }
      chunk.ts.push(p.ts);
      chunk.v.push(p.value);
    }
    return Array.from(chunks.values(), (c) => ({ ...c.head, ts: new Float64Array(c.ts), v: new Float64Array(c.v) }));
  }

  /** Series counters held (for tests and metrics). */
  get size(): number {
    return this.ordinals.size;
  }

  private prune(nowMs: number): void {
    // A window takes on-time points until end + lateness, late points only while current.
    const oldest = windowStartOf(nowMs, this.rules.windowMs) - this.rules.windowMs - this.rules.allowedLatenessMs;
    for (const [k, o] of this.ordinals) if (o.window < oldest) this.ordinals.delete(k);
  }
}

/** The statistics of one window part, as published. */
export interface WindowStats {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  firstTs: number;
  lastTs: number;
}

/**
 * Accumulates the points of one window part in bounded memory: count, exact sum, min, max,
 * first/last ts, and a DDSketch for quantiles. The result does not depend on insertion order.
 */
export class WindowAccumulator {
  count = 0;
  private readonly sum = new ExactSum();
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;
  private firstTs = Number.POSITIVE_INFINITY;
  private lastTs = Number.NEGATIVE_INFINITY;
  private readonly sketch = new LogCollapsingLowestDenseDDSketch({
    relativeAccuracy: SKETCH_RELATIVE_ACCURACY,
    binLimit: SKETCH_BIN_LIMIT,
  });

  /** Adds one point. */
  add(ts: number, value: number): void {
    this.count++;
    this.sum.add(value);
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (ts < this.firstTs) this.firstTs = ts;
    if (ts > this.lastTs) this.lastTs = ts;
    this.sketch.accept(value);
  }

  /**
   * Adds the points `(ts[i], v[i])` for every `i < ts.length` (`v` at least as long): a series
   * chunk at once, columns as decoded. The same result as `add` per point, with the running
   * fields kept in locals.
   */
  addColumns(ts: Float64Array, v: Float64Array): void {
    let { min, max, firstTs, lastTs } = this;
    const { sum, sketch } = this;
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i]!;
      const value = v[i]!;
      sum.add(value);
      sketch.accept(value);
      if (value < min) min = value;
      if (value > max) max = value;
      if (t < firstTs) firstTs = t;
      if (t > lastTs) lastTs = t;
    }
    this.count += ts.length;
    this.min = min;
    this.max = max;
    this.firstTs = firstTs;
    this.lastTs = lastTs;
  }

  /**
   * The statistics. A quantile q is the nearest-rank one (the inverse of the empirical CDF: the
   * smallest value with at least q of the points at or below it, so p99 of {1, 3} is 3), read
   * from the sketch within its relative accuracy and clamped to [min, max], which keeps the bound.
   */
  stats(): WindowStats {
    const sum = this.sum.value();
    const q = (p: number): number => {
      const rank = nearestRank(p, this.count);
      // The extremes are known exactly: small windows report their largest point as p99.
      if (rank === 0) return this.min;
      if (rank === this.count - 1) return this.max;
      // DDSketch reads 0-based rank q' × (n − 1), rounding down: half a rank up stays off the boundary.
      return Math.min(this.max, Math.max(this.min, this.sketch.getValueAtQuantile((rank + 0.5) / (this.count - 1))));
    };
    return {
      count: this.count,
      sum,
      min: this.min,
      max: this.max,
      mean: sum / this.count,
      p50: q(0.5),
      p95: q(0.95),
      p99: q(0.99),
      firstTs: this.firstTs,
      lastTs: this.lastTs,
    };
  }
}

/** The 0-based rank of the nearest-rank q-quantile of `n` values: ⌈q·n⌉ − 1. */
export function nearestRank(q: number, n: number): number {
  return Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
}
