/**
 * The telemetry origins one scout hears: per (origin, epoch) the batches it holds
 * (BatchCoverage), when it last heard the origin, and whether the origin sends watermarks at
 * all. Origins of versions that send none are `legacy`: the scout then closes their windows by
 * its timer alone, as before watermarks existed. Pure.
 */
import { BatchCoverage, type BatchVerdict, type WindowCoverage } from './batch-coverage.js';

interface Origin {
  epochs: Map<number, BatchCoverage>;
  // A watermark of an epoch with no batch here yet. Batches sent before it may still be on the
  // way (a heartbeat can overtake them), so it waits one grace period before it starts the run.
  early: Map<number, { seq: number; atMs: number; heardMs: number }>;
  lastHeardMs: number;
  watermarks: boolean;
}

/** Epochs kept per origin (an origin that restarts starts a new one). */
const MAX_EPOCHS = 4;

/** Batch coverage of every origin a scout hears. */
export class OriginStreams {
  private readonly origins = new Map<string, Origin>();

  /** `graceMs`: how long a gap in an origin's batches may stay open before the run restarts after it. */
  constructor(private readonly graceMs: number) {}

  /** Records a batch of `origin` (heard at `nowMs`, scout clock). */
  batch(origin: string, epoch: number, seq: number, sentAtMs: number, nowMs: number): BatchVerdict {
    const o = this.get(origin, nowMs);
    const run = o.epochs.get(epoch);
    if (run !== undefined) return run.batch(seq, sentAtMs, nowMs);
    const early = o.early.get(epoch);
    o.early.delete(epoch);
    if (early !== undefined && seq > early.seq) {
      const fromMark = this.start(o, epoch, new BatchCoverage(early.seq, early.atMs, true));
      return fromMark.batch(seq, sentAtMs, nowMs);
    }
    const fromBatch = this.start(o, epoch, new BatchCoverage(seq, sentAtMs));
    if (early !== undefined) fromBatch.watermark(early.seq, early.atMs, nowMs);
    return 'new';
  }

  /** Records `origin`'s watermark: every batch of `epoch` up to `seq` was sent before `atMs` (origin clock). */
  watermark(origin: string, epoch: number, seq: number, atMs: number, nowMs: number): void {
    const o = this.get(origin, nowMs);
    o.watermarks = true;
    const run = o.epochs.get(epoch);
    if (run !== undefined) run.watermark(seq, atMs, nowMs);
    else o.early.set(epoch, { seq, atMs, heardMs: o.early.get(epoch)?.heardMs ?? nowMs });
  }

  /**
   * Restarts runs whose gaps outlived the grace period, and starts runs from watermarks that
   * waited one; returns how many batches were given up (not those sent before this scout first
   * heard the origin).
   */
  settle(nowMs: number): number {
    let givenUp = 0;
    for (const o of this.origins.values()) {
      for (const run of o.epochs.values()) if (run.gapOpen) givenUp += run.settle(nowMs, this.graceMs);
      for (const [epoch, e] of o.early) {
        if (nowMs - e.heardMs < this.graceMs) continue;
        o.early.delete(epoch);
        this.start(o, epoch, new BatchCoverage(e.seq, e.atMs, true));
      }
    }
    return givenUp;
  }

  /** True while `origin`'s run of `epoch` misses a batch it may still receive (within the grace period). */
  gapOpen(origin: string, epoch: number): boolean {
    return this.origins.get(origin)?.epochs.get(epoch)?.gapOpen === true;
  }

  /** True when `origin` has started an epoch after `epoch` (it restarted: `epoch` is over). */
  superseded(origin: string, epoch: number): boolean {
    const o = this.origins.get(origin);
    if (o === undefined) return false;
    for (const e of o.epochs.keys()) if (e > epoch) return true;
    for (const e of o.early.keys()) if (e > epoch) return true;
    return false;
  }

  /**
   * Whether this scout holds every batch of `origin`'s window `[windowStart, …)` whose batches
   * were all sent before `endMs`; `legacy` when the origin sends no watermarks.
   */
  coverage(origin: string, epoch: number, windowStart: number, endMs: number): WindowCoverage | 'legacy' {
    const o = this.origins.get(origin);
    if (o === undefined || !o.watermarks) return 'legacy';
    return o.epochs.get(epoch)?.coverage(windowStart, endMs) ?? 'incomplete';
  }

  /** True once `origin` sent a watermark: its windows are decided by coverage, not by the timer alone. */
  watermarked(origin: string): boolean {
    return this.origins.get(origin)?.watermarks === true;
  }

  /** When this scout last heard a batch or watermark of `origin` (scout clock); undefined if never. */
  lastHeardMs(origin: string): number | undefined {
    return this.origins.get(origin)?.lastHeardMs;
  }

  /** Forgets origins not heard for `idleMs`. */
  prune(nowMs: number, idleMs: number): void {
    for (const [id, o] of this.origins) if (nowMs - o.lastHeardMs > idleMs) this.origins.delete(id);
  }

  /** Origins tracked (for tests and metrics). */
  get size(): number {
    return this.origins.size;
  }

  private get(origin: string, nowMs: number): Origin {
    let o = this.origins.get(origin);
    if (o === undefined) {
      o = { epochs: new Map(), early: new Map(), lastHeardMs: nowMs, watermarks: false };
      this.origins.set(origin, o);
    }
    o.lastHeardMs = nowMs;
    return o;
  }

  private start(o: Origin, epoch: number, run: BatchCoverage): BatchCoverage {
    o.epochs.set(epoch, run);
    if (o.epochs.size > MAX_EPOCHS) o.epochs.delete(Math.min(...o.epochs.keys()));
    return run;
  }
}
