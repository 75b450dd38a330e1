/**
 * A bounded history of status samples (one every few seconds) for the status page's charts and
 * for the recent-window commit latency that `status` judges against the SLAs.
 */
import type { RowKind } from '../core/intent.js';
import type { CumulativeBuckets } from '../core/sla.js';

/** One sample of the figures the status page charts. */
export interface StatusSample {
  /** Wall-clock time of the sample, ms since epoch. */
  atMs: number;
  /** Open rows (proposed, pending-commit, in-flight) per kind. */
  pending: Record<RowKind, number>;
  /** Age of the oldest open row per kind, ms (0 when none). */
  lagMs: Record<RowKind, number>;
  natsConnected: boolean;
  /** Connected libp2p peers (0 with the mesh off). */
  peers: number;
  /** Cumulative commit-latency buckets per kind at this time. */
  buckets: Record<RowKind, CumulativeBuckets>;
}

/** A fixed-capacity ring: the newest `capacity` items, oldest first. */
export class RingBuffer<T> {
  private readonly items: T[] = [];
  private next = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity: must be a positive integer');
  }

  /** Adds `item`, evicting the oldest when full. */
  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Number of items held. */
  get size(): number {
    return this.items.length;
  }

  /** The items, oldest first. */
  toArray(): T[] {
    if (this.items.length < this.capacity) return [...this.items];
    return [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }

  /** The newest item at or before `atMs` by `timeOf`, else the oldest held (or undefined when empty). */
  atOrBefore(atMs: number, timeOf: (item: T) => number): T | undefined {
    const all = this.toArray();
    let found: T | undefined = all[0];
    for (const item of all) if (timeOf(item) <= atMs) found = item;
    return found;
  }
}
