/**
 * Groups items into one gossip message: each message costs every peer a signature check and a
 * validator run, so endorsements and commit announcements travel in batches. A batch goes out
 * when it holds `maxItems`, or `delayMs` after its first item.
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
}

/** Batches items for gossip. `stop()` sends what is queued. */
export class GossipBatcher<T> {
  private queue: T[] = [];
  private timer: AbortController | null = null;
  private readonly sending = new Set<Promise<void>>();

  constructor(private readonly opts: GossipBatcherOptions<T>) {}

  /** Queues one item. */
  add(item: T): void {
    this.queue.push(item);
    if (this.queue.length >= this.opts.maxItems) this.flush();
    else if (this.timer === null) this.arm();
  }

  /** Sends everything queued now, in batches of at most `maxItems`. */
  flush(): void {
    this.timer?.abort();
    this.timer = null;
    while (this.queue.length > 0) {
      const items = this.queue.splice(0, this.opts.maxItems);
      const sent = this.opts.send(items).catch((err: unknown) => this.opts.onError(err, items.length));
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
