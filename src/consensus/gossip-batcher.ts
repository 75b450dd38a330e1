/**
 * Groups items into one gossip message: each message costs every peer a signature check and a
 * validator run, so proposals, endorsements and commit announcements travel in batches. A batch
 * goes out when it holds `maxItems`, when the next item would take it past `maxBytes`, or
 * `delayMs` after its first item. With `leading`, an item that arrives after a quiet period
 * goes out at once instead (a throttle: at most about one batch per `delayMs` under load).
 */
import { hasCode } from '../core/errors.js';
import type { Clock } from '../core/ports.js';

/** Options of {@link GossipBatcher}. */
export interface GossipBatcherOptions<T> {
  clock: Clock;
  /** Longest wait of the first item of a batch, ms. */
  delayMs: number;
  /** Items per batch; a full batch is sent at once. */
  maxItems: number;
  /** Sends one batch. A rejection is passed to `onError`; the batch is not retried. */
  send: (items: T[]) => Promise<void>;
  onError: (err: unknown, items: number) => void;
  /** Encoded size of one item, bytes (counted against `maxBytes`). Default: not measured. */
  sizeOf?: (item: T) => number;
  /**
   * Most bytes of items per batch (`sizeOf` summed). Set it below the envelope size limit minus
   * the envelope's own fields. An item larger than this on its own is sent alone. Default: none.
   */
  maxBytes?: number;
  /** Send an item at once when no batch went out in the last `delayMs`. Default false. */
  leading?: boolean;
}

/** Batches items for gossip. `stop()` sends what is queued. */
export class GossipBatcher<T> {
  private queue: T[] = [];
  /** Per queued item: resolves when the batch holding it has been handed to gossip (or failed). */
  private waiters: Array<(() => void) | null> = [];
  private queuedBytes = 0;
  private lastSentAtMs = Number.NEGATIVE_INFINITY;
  private timer: AbortController | null = null;
  private readonly sending = new Set<Promise<void>>();

  constructor(private readonly opts: GossipBatcherOptions<T>) {}

  /** Queues one item. */
  add(item: T): void {
    this.enqueue(item, null);
  }

  /** Queues one item; resolves once the batch holding it was sent (or its send failed). */
  submit(item: T): Promise<void> {
    return new Promise((resolve) => this.enqueue(item, resolve));
  }

  private enqueue(item: T, waiter: (() => void) | null): void {
    const bytes = this.opts.sizeOf?.(item) ?? 0;
    if (this.queue.length > 0 && this.queuedBytes + bytes > (this.opts.maxBytes ?? Number.POSITIVE_INFINITY))
      this.flush();
    this.queue.push(item);
    this.waiters.push(waiter);
    this.queuedBytes += bytes;
    const quiet =
      this.opts.leading === true &&
      this.timer === null &&
      this.opts.clock.now() - this.lastSentAtMs >= this.opts.delayMs;
    if (this.queue.length >= this.opts.maxItems || quiet) this.flush();
    else if (this.timer === null) this.arm();
  }

  /** Sends everything queued now, in batches of at most `maxItems`. */
  flush(): void {
    this.timer?.abort();
    this.timer = null;
    if (this.queue.length > 0) this.lastSentAtMs = this.opts.clock.now();
    this.queuedBytes = 0;
    while (this.queue.length > 0) {
      const items = this.queue.splice(0, this.opts.maxItems);
      const waiters = this.waiters.splice(0, items.length);
      const sent = this.opts
        .send(items)
        .catch((err: unknown) => this.opts.onError(err, items.length))
        .finally(() => {
          for (const w of waiters) w?.();
        });
      this.sending.add(sent);
      void sent.finally(() => this.sending.delete(sent));
    }
  }

  /** Sends what is queued and waits for every send to settle. */
  async stop(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.sending]);
  }

  private arm(): void {
    const timer = new AbortController();
    this.timer = timer;
    this.opts.clock.sleep(this.opts.delayMs, timer.signal).then(
      () => {
        if (this.timer === timer) this.flush();
      },
      (err: unknown) => {
        if (!hasCode(err, 'ABORTED')) this.opts.onError(err, 0);
      },
    );
  }
}
