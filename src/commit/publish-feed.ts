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
 *
 * The queue also holds rows the append transaction claimed for the committer (`in-flight`, see
 * `Outbox.claimAppends`). Those are ours to send: when memory drops one unsent, it is kept aside
 * for {@link PublishFeed.putBackDroppedClaims}, so that it is put back, never forgotten.
 */
export class PublishFeed {
  private readonly outbox: Outbox;
  private readonly maxRows: number;
  private queue: OutboxRow[] = [];
  private head = 0;
  private cursor = 0;
  private complete = false;
  private rescanPending = false;
  private lastUnclaimedSeq = 0;
  private dropped: OutboxRow[] = [];
  private listener: (() => void) | null = null;

  /** `maxRows` bounds the queue; past it the feed falls back to reading the outbox. 0 = never from memory. */
  constructor(outbox: Outbox, maxRows: number) {
    this.outbox = outbox;
    this.maxRows = maxRows;
  }

  /** Rows waiting in memory. */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** Rows a take can hand out without reading the outbox; Infinity when it would read the outbox. */
  get ready(): number {
    return this.complete && this.maxRows > 0 && !(this.rescanPending && this.size === 0)
      ? this.size
      : Number.POSITIVE_INFINITY;
  }

  /**
   * How many of the next appended rows the append transaction may claim, up to `cap` rows held
   * in memory: only while every publishable row older than them has been handed out, so that
   * sending claimed rows at once keeps insertion order. 0 otherwise.
   */
  claimRoom(cap: number): number {
    if (!this.complete || this.rescanPending || this.lastUnclaimedSeq > this.cursor) return 0;
    return Math.max(0, Math.min(cap, this.maxRows) - this.size);
  }

  /**
   * Takes rows just made durable (from `Outbox.onAppended`): `pending-commit` rows, and the
   * `in-flight` rows the append claimed for us. Other states are not publishable.
   */
  offer(rows: readonly OutboxRow[]): void {
    let i = 0;
    // Not complete: the outbox read that restores completeness will see pending rows anyway.
    for (; this.complete && i < rows.length; i++) {
      const r = rows[i]!;
      if (r.state !== 'pending-commit' && r.state !== 'in-flight') continue;
      if (this.size >= this.maxRows) {
        this.invalidate(this.cursor);
        break;
      }
      this.queue.push(r);
      if (r.state === 'pending-commit') this.lastUnclaimedSeq = r.seq;
    }
    for (; i < rows.length; i++) if (rows[i]!.state === 'in-flight') this.dropped.push(rows[i]!);
    this.listener?.();
  }

  /** True while claimed rows memory let go of wait for {@link PublishFeed.putBackDroppedClaims}. */
  get hasDroppedClaims(): boolean {
    return this.dropped.length > 0;
  }

  /**
   * Puts the claimed rows memory let go of (see the class comment) back to `pending-commit` when
   * `covered(row)`: the lease that covered the row's claim is still ours, so no other owner can
   * have touched it. The others stay `in-flight`, for a stream lookup. Returns how many those are.
   */
  putBackDroppedClaims(covered: (row: OutboxRow) => boolean, atMs: number): number {
    const dropped = this.dropped;
    this.dropped = [];
    const back = dropped.filter(covered).map((r) => r.correlationId);
    if (back.length > 0) {
      this.outbox.markRetry(back, 'claimed on append, not sent', atMs);
      // Pending again below the cursor: read the outbox from its start.
      this.invalidate();
    }
    return dropped.length - back.length;
  }

  /** The claimed rows memory holds, not yet handed out. */
  heldClaims(): OutboxRow[] {
    const out: OutboxRow[] = [];
    for (let i = this.head; i < this.queue.length; i++)
      if (this.queue[i]!.state === 'in-flight') out.push(this.queue[i]!);
    return out;
  }

  /**
   * Memory may miss publishable rows (a failure put rows back, the lease changed hands): the next
   * take reads the outbox from `fromSeq` (default: its start).
   */
  invalidate(fromSeq = 0): void {
    this.dropped.push(...this.heldClaims());
    this.complete = false;
    this.cursor = Math.min(this.cursor, fromSeq);
    this.queue = [];
    this.head = 0;
  }

  /**
   * Rows may have become publishable outside an append (a promotion): once memory runs dry, the
   * outbox is read again from its start. Cheap when there are none: one index seek.
   */
  rescan(): void {
    this.rescanPending = true;
    this.listener?.();
  }

  /** Called (synchronously) whenever rows are offered or a rescan is asked for; null to stop. */
  onChange(listener: (() => void) | null): void {
    this.listener = listener;
  }

  /**
   * Up to `limit` publishable rows after those already taken, in insertion order; [] when none,
   * and while dropped claims wait to be put back (newer rows must not overtake them).
   */
  take(limit: number): OutboxRow[] {
    if (this.dropped.length > 0) return [];
    if (this.complete && this.rescanPending && this.size === 0) {
      this.rescanPending = false;
      this.invalidate();
    }
    if (!this.complete || this.maxRows === 0) return this.read(limit);
    const out: OutboxRow[] = [];
    while (out.length < limit && this.head < this.queue.length) {
      const r = this.queue[this.head++]!;
      if (r.seq > this.cursor) out.push(r);
    }
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4_096) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (out.length > 0) this.cursor = out[out.length - 1]!.seq;
    return out;
  }

  private read(limit: number): OutboxRow[] {
    const rows = this.outbox.listPublishable(limit, this.cursor);
    if (rows.length > 0) this.cursor = rows[rows.length - 1]!.seq;
    if (rows.length < limit) {
      // Every pending row up to now was read; from here on appends arrive through offer().
      this.complete = true;
      this.lastUnclaimedSeq = 0;
      this.queue = [];
      this.head = 0;
    }
    return rows;
  }
}
