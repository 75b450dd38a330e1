/**
 * Where the committer takes the rows it publishes: from memory, as the outbox hands them over
 * after each durable append, while memory is known to hold every publishable row; from the
 * outbox otherwise (first pass, after a restart, a backlog, an overflow, a failure, or rows
 * made publishable by something other than an append).
 */
import type { OutboxRow } from '../core/intent.js';
import type { Outbox } from '../core/ports.js';

/**
 * Rows to publish, oldest first. Invariant while `complete`: every `pending-commit` row with
 * `seq > cursor` is in the queue (a `pending-commit` row at or below the cursor was already
 * handed out, or {@link PublishFeed.rescan} was asked for). It is established by reading the
 * outbox up to a short batch (one synchronous read, so no append can slip between the read and
 * the next offer), and lost when the queue overflows or {@link PublishFeed.invalidate} is called.
 */
export class PublishFeed {
  readonly #outbox: Outbox;
  readonly #maxRows: number;
  #queue: OutboxRow[] = [];
  #head = 0;
  #cursor = 0;
  #complete = false;
  #rescan = false;
  #listener: (() => void) | null = null;

  /** `maxRows` bounds the queue; past it the feed falls back to reading the outbox. 0 = never from memory. */
  constructor(outbox: Outbox, maxRows: number) {
    this.#outbox = outbox;
    this.#maxRows = maxRows;
  }

  /** Rows waiting in memory. */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  /** Rows a take can hand out without reading the outbox; Infinity when it would read the outbox. */
  get ready(): number {
    return this.#complete && this.#maxRows > 0 && !(this.#rescan && this.size === 0) ? this.size : Number.POSITIVE_INFINITY;
  }

  /** Takes rows just made durable (from `Outbox.onAppended`). Only `pending-commit` rows are publishable. */
  offer(rows: readonly OutboxRow[]): void {
    // Not complete: the outbox read that restores completeness will see these rows anyway.
    if (!this.#complete) return;
    for (const r of rows) {
      if (r.state !== 'pending-commit') continue;
      if (this.size >= this.#maxRows) {
        this.invalidate(this.#cursor);
        break;
      }
      this.#queue.push(r);
    }
    this.#listener?.();
  }

  /**
   * Memory may miss publishable rows (a failure put rows back, the lease changed hands): the next
   * take reads the outbox from `fromSeq` (default: its start).
   */
  invalidate(fromSeq = 0): void {
    this.#complete = false;
    this.#cursor = Math.min(this.#cursor, fromSeq);
    this.#queue = [];
    this.#head = 0;
  }

  /**
   * Rows may have become publishable outside an append (a promotion): once memory runs dry, the
   * outbox is read again from its start. Cheap when there are none: one index seek.
   */
  rescan(): void {
    this.#rescan = true;
    this.#listener?.();
  }

  /** Called (synchronously) whenever rows are offered or a rescan is asked for; null to stop. */
  onChange(listener: (() => void) | null): void {
    this.#listener = listener;
  }

  /** Up to `limit` publishable rows after those already taken, in insertion order; [] when none. */
  take(limit: number): OutboxRow[] {
    if (this.#complete && this.#rescan && this.size === 0) {
      this.#rescan = false;
      this.invalidate();
    }
    if (!this.#complete || this.#maxRows === 0) return this.#read(limit);
    const out: OutboxRow[] = [];
    while (out.length < limit && this.#head < this.#queue.length) {
      const r = this.#queue[this.#head++]!;
      if (r.seq > this.#cursor) out.push(r);
    }
    if (this.#head >= this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 4_096) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (out.length > 0) this.#cursor = out[out.length - 1]!.seq;
    return out;
  }

  #read(limit: number): OutboxRow[] {
    const rows = this.#outbox.listPublishable(limit, this.#cursor);
    if (rows.length > 0) this.#cursor = rows[rows.length - 1]!.seq;
    if (rows.length < limit) {
      // Every pending row up to now was read; from here on appends arrive through offer().
      this.#complete = true;
      this.#queue = [];
      this.#head = 0;
    }
    return rows;
  }
}
