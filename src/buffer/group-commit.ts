/**
 * Group commit: many concurrent callers, one transaction (and so one fsync) per batch.
 */

/** One caller's items and how to settle its promise. */
interface Waiter<T> {
  readonly items: readonly T[];
  resolve(): void;
  reject(err: unknown): void;
}

/** How a {@link GroupCommit} writes. */
export interface GroupCommitOptions<T> {
  /**
   * Soft cap on items per transaction. A batch is made of whole callers, so one caller's
   * items always share a transaction (all stored or none): a single caller with more items
   * than this gets a transaction of its own.
   */
  readonly maxItems: number;
  /** Writes `items` in ONE transaction; throws when nothing was stored. */
  readonly write: (items: T[]) => void;
}

/**
 * Queues items and writes them in batches from a `setImmediate` callback, so every caller
 * that enqueued during the same event-loop turn shares a transaction. One batch is written
 * per turn; if more are queued the next batch is scheduled on the following turn, which
 * keeps the event loop responsive under sustained load.
 */
export class GroupCommit<T> {
  private readonly opts: GroupCommitOptions<T>;
  private queue: Waiter<T>[] = [];
  private timer: NodeJS.Immediate | undefined;

  constructor(opts: GroupCommitOptions<T>) {
    this.opts = opts;
  }

  /** Callers waiting for their items to be written. */
  get pendingCallers(): number {
    return this.queue.length;
  }

  /**
   * Queues `items`. Resolves once the transaction holding them has committed; rejects with
   * the writer's error when it failed (and then every caller of that batch is rejected).
   */
  enqueue(items: readonly T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.schedule();
    });
  }

  /** Writes everything queued now, synchronously, batch after batch. Used by close. */
  flushAll(): void {
    if (this.timer !== undefined) clearImmediate(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) this.flushOne();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setImmediate(() => {
      this.timer = undefined;
      this.flushOne();
      if (this.queue.length > 0) this.schedule();
    });
  }

  private takeBatch(): Waiter<T>[] {
    let rows = 0;
    let n = 0;
    for (const w of this.queue) {
      if (n > 0 && rows + w.items.length > this.opts.maxItems) break;
      rows += w.items.length;
      n += 1;
    }
    return this.queue.splice(0, n);
  }

  private flushOne(): void {
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    const items = batch.length === 1 ? [...batch[0]!.items] : batch.flatMap((w) => w.items);
    try {
      this.opts.write(items);
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    for (const w of batch) w.resolve();
  }
}
