/**
 * A Clock whose time only moves when the test says so. Sleepers wake when `advance` passes
 * their deadline.
 */
import { NetSyncError } from '../../src/core/errors.js';
import type { Clock } from '../../src/core/ports.js';

interface Sleeper {
  until: number;
  resolve: () => void;
}

export class ManualClock implements Clock {
  private sleepers: Sleeper[] = [];
  constructor(private t = 1_700_000_000_000) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new NetSyncError('ABORTED', 'aborted'));
      if (ms <= 0) return resolve(); // already due: a yield, as setTimeout(0) would be
      const sleeper: Sleeper = { until: this.t + ms, resolve };
      this.sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== sleeper);
          reject(new NetSyncError('ABORTED', 'aborted'));
        },
        { once: true },
      );
    });
  }

  /** Moves time forward and wakes every sleeper whose deadline passed. */
  advance(ms: number): void {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.until <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.until > this.t);
    for (const s of due) s.resolve();
  }

  /** Number of pending sleepers. */
  get sleeping(): number {
    return this.sleepers.length;
  }
}
