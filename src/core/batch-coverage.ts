/**
 * Which telemetry batches of one origin epoch a scout holds, so that it can tell whether its copy
 * of a window is complete before it publishes it under the window's shared `Nats-Msg-Id`.
 *
 * An origin numbers its batches (`seq`, from 0 per epoch) in send order, and every chunk filed
 * under window `W` travels in a batch sent in `[W, W + windowMs + allowedLatenessMs)` (on-time
 * points until the lateness ends, late ones while `W` is current; see telemetry-window.ts). So a
 * scout holds every point of `W` when it holds a gap-free run of batches that starts before `W`
 * (or at seq 0) and reaches past that interval: a later batch in the run, or the origin's
 * watermark (its heartbeat saying "every batch up to `seq` was sent before `atMs`").
 *
 * A gap that stays open for a grace period (gossip may reorder a little) restarts the run after
 * it: windows before the restart can then never be complete here, and another scout that heard
 * them whole must publish them. Pure: time comes in as arguments.
 */

/** Where a batch stands against the run. */
export type BatchVerdict =
  /** Not seen before and inside the run (or ahead of it): merge it. */
  | 'new'
  /** Already merged (gossip or a replay delivered it twice). */
  | 'duplicate'
  /** Before the run's start, in a gap this scout gave up on: its windows are incomplete here. */
  | 'outside';

/** Earlier runs remembered after gaps. */
const MAX_PAST_RUNS = 8;

/** Whether this scout holds every batch of a window. */
export type WindowCoverage = 'complete' | 'incomplete' | 'pending';

/** Batches of one (origin, epoch) held by one scout. */
export class BatchCoverage {
  // Every batch from `fromSeq` to `toSeq` is held; `fromSentAtMs` is when the first was sent
  // (-Infinity from seq 0: nothing came before it).
  private fromSeq: number;
  private fromSentAtMs: number;
  private toSeq: number;
  // Every batch sent in [fromSentAtMs, provenMs) is held.
  private provenMs: number;
  private readonly ahead = new Map<number, number>(); // seq → sentAtMs, received past a gap
  private marks: Array<{ seq: number; atMs: number }> = []; // watermarks past toSeq
  private gapSinceMs: number | null = null;
  // Earlier runs, ended by a gap: every batch sent in [fromMs, toMs) was held. Windows wholly
  // inside one stay complete after a restart (a short cut may end before they are decided).
  private readonly past: Array<{ fromMs: number; toMs: number }> = [];

  /** Starts from the first batch heard (`seq`, sent at `sentAtMs`), or from a watermark when `watermark` is set. */
  constructor(seq: number, sentAtMs: number, watermark = false) {
    if (watermark) {
      // Nothing held yet; batches up to `seq` are gone, everything after `sentAtMs` can still come.
      this.fromSeq = seq + 1;
      this.fromSentAtMs = sentAtMs;
      this.toSeq = seq;
    } else {
      this.fromSeq = seq;
      this.fromSentAtMs = seq === 0 ? Number.NEGATIVE_INFINITY : sentAtMs;
      this.toSeq = seq;
    }
    this.provenMs = sentAtMs;
  }

  /** Records batch `seq` sent at `sentAtMs`, received at `nowMs` (scout clock). */
  batch(seq: number, sentAtMs: number, nowMs: number): BatchVerdict {
    if (seq < this.fromSeq) return 'outside';
    if (seq <= this.toSeq || this.ahead.has(seq)) return 'duplicate';
    if (seq === this.toSeq + 1) {
      this.toSeq = seq;
      this.provenMs = Math.max(this.provenMs, sentAtMs);
      this.drain();
    } else {
      this.ahead.set(seq, sentAtMs);
      this.gapSinceMs ??= nowMs;
    }
    return 'new';
  }

  /** Records the origin's watermark: every batch up to `seq` was sent before `atMs`. */
  watermark(seq: number, atMs: number, nowMs: number): void {
    if (seq <= this.toSeq) {
      this.provenMs = Math.max(this.provenMs, atMs);
      return;
    }
    this.marks.push({ seq, atMs });
    this.gapSinceMs ??= nowMs;
  }

  /**
   * Gives up on batches missing for `graceMs` or more: the run restarts after the gap, at the
   * first batch held past it (or, when only a watermark told of the gap, after the watermark).
   * Returns how many batches it gave up on (0: no restart); after a restart, windows before the
   * new start are incomplete here.
   */
  settle(nowMs: number, graceMs: number): number {
    if (this.gapSinceMs === null || nowMs - this.gapSinceMs < graceMs) return 0;
    const heldTo = this.toSeq;
    this.past.push({ fromMs: this.fromSentAtMs, toMs: this.provenMs });
    if (this.past.length > MAX_PAST_RUNS) this.past.shift();
    if (this.ahead.size > 0) {
      const first = Math.min(...this.ahead.keys());
      this.fromSeq = first;
      this.fromSentAtMs = this.ahead.get(first)!;
      this.toSeq = first;
      this.provenMs = this.fromSentAtMs;
      this.ahead.delete(first);
    } else {
      // Nothing held past the gap: every batch up to the last watermark is missing.
      const mark = this.marks.reduce((m, x) => (x.seq > m.seq ? x : m));
      this.fromSeq = mark.seq + 1;
      this.fromSentAtMs = mark.atMs;
      this.toSeq = mark.seq;
      this.provenMs = mark.atMs;
    }
    this.drain();
    // A gap further on (a watermark past what is held) gets its own grace period.
    this.gapSinceMs = this.ahead.size > 0 || this.marks.length > 0 ? nowMs : null;
    return this.fromSeq - heldTo - 1;
  }

  /** Whether every batch of the window starting at `windowStart` whose batches end at `endMs` is held. */
  coverage(windowStart: number, endMs: number): WindowCoverage {
    if (this.fromSentAtMs < windowStart) return this.provenMs >= endMs ? 'complete' : 'pending';
    return this.past.some((r) => r.fromMs < windowStart && r.toMs >= endMs) ? 'complete' : 'incomplete';
  }

  /** True while batches are missing (waiting for them, or for `settle`). */
  get gapOpen(): boolean {
    return this.gapSinceMs !== null;
  }

  // Extends the run over batches received ahead of it, and applies watermarks it now reaches.
  private drain(): void {
    for (let sentAt = this.ahead.get(this.toSeq + 1); sentAt !== undefined; sentAt = this.ahead.get(this.toSeq + 1)) {
      this.ahead.delete(this.toSeq + 1);
      this.toSeq++;
      this.provenMs = Math.max(this.provenMs, sentAt);
    }
    if (this.marks.length > 0) {
      for (const m of this.marks) if (m.seq <= this.toSeq) this.provenMs = Math.max(this.provenMs, m.atMs);
      this.marks = this.marks.filter((m) => m.seq > this.toSeq);
    }
    if (this.ahead.size === 0 && this.marks.length === 0) this.gapSinceMs = null;
  }
}
