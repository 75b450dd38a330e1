/**
 * The real Clock: wall time and abortable timers.
 */
import { NetSyncError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';

/** Clock backed by `Date.now` and `setTimeout`. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new NetSyncError('ABORTED', 'sleep aborted'));
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(new NetSyncError('ABORTED', 'sleep aborted'));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
