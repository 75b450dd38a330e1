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
  /**
   * Writes `items` in ONE transaction; throws when nothing was stored. With `sync`, the
   * transaction need not be durable itself: its callers are answered once `sync` has made it so.
   * Returns what `written` is called with once the batch is durable (after `sync`, if any).
   */
  readonly write: (items: T[]) => (() => void) | undefined;
  /**
   * Makes every transaction written so far durable (an fsync of the WAL, off the event loop).
   * Unset: `write` is durable when it returns. One sync covers every batch written before it
   * started; batches written while one runs wait for the next (group commit across fsyncs).
   */
  readonly sync?: () => Promise<void>;
}

/**
 * Queues items and writes them in batches from a `setImmediate` callback, so every caller
 * that enqueued during the same event-loop turn shares a transaction. One batch is written
 * per turn; if more are queued the next batch is scheduled on the following turn, which
 * keeps the event loop responsive under sustained load. With `sync`, callers are answered only
 * once a sync that started after their batch was written has completed.
 */
export class GroupCommit<T> {
  private readonly opts: GroupCommitOptions<T>;
  private queue: Waiter<T>[] = [];
  private timer: NodeJS.Immediate | undefined;
  /** Batches written, waiting for the next sync; and whether one is running. */
  private unsynced: Array<{ batch: Waiter<T>[]; written: (() => void) | undefined }> = [];
  private syncing: Promise<void> | null = null;

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

  /**
   * Writes everything queued now, synchronously, batch after batch. Used by close: with `sync`,
   * the callers are answered by the syncs still to run (see {@link settled}).
   */
  flushAll(): void {
    if (this.timer !== undefined) clearImmediate(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) this.flushOne();
  }

  /** Resolves once no written batch waits for a sync (immediately without `sync`). */
  async settled(): Promise<void> {
    while (this.syncing !== null) await this.syncing;
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
    let written: (() => void) | undefined;
    try {
      written = this.opts.write(items);
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    if (this.opts.sync === undefined) {
      written?.();
      for (const w of batch) w.resolve();
      return;
    }
    this.unsynced.push({ batch, written });
    if (this.syncing === null) this.syncing = this.syncLoop(this.opts.sync);
  }

  // Syncs until no written batch is left unsynced: each round answers the batches written before it began.
  private async syncLoop(sync: () => Promise<void>): Promise<void> {
    while (this.unsynced.length > 0) {
      const round = this.unsynced;
      this.unsynced = [];
      let failure: { err: unknown } | null = null;
      try {
        await sync();
      } catch (err) {
        failure = { err };
      }
      for (const { batch, written } of round) {
        if (failure !== null) {
          for (const w of batch) w.reject(failure.err);
          continue;
        }
        written?.();
        for (const w of batch) w.resolve();
      }
    }
    this.syncing = null;
  }
}
