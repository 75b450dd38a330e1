/**
 * `reconcile` wired to the committer's publish pass: the rows the stream lacks are published
 * exactly as the sidecar would publish them (claims, window, outcome classification).
 */
import { setMaxListeners } from 'node:events';
import { runPublishPass, type PassOptions } from '../commit/index.js';
import type { Logger } from '../observability/logger.js';
import { reconcile, type ReconcileOptions, type ReconcileReport } from '../reconcile/reconciler.js';

/** Reconcile options, with the publish window and batch size of the pass instead of the pass itself. */
export type ReconcileOutboxOptions = Omit<ReconcileOptions, 'publishPending'> & {
  logger: Logger;
  /** PubAcks in flight at once while publishing missing rows. */
  window: number;
  /** Rows claimed per transaction. */
  batchRows: number;
  /** The dead-letter notice stored with a row going `dead`, as the sidecar stores it. */
  deadLetter?: PassOptions['deadLetter'];
};

/** Runs reconcile once; see {@link reconcile}. */
export function reconcileOutbox(opts: ReconcileOutboxOptions): Promise<ReconcileReport> {
  const { logger, window, batchRows, deadLetter, ...rest } = opts;
  return reconcile({
    ...rest,
    publishPending: async ({ renewLease, onSettled, signal }) => {
      // Every publish in the window listens on the signal while it waits for its PubAck.
      setMaxListeners(window + 64, signal);
      const pass = await runPublishPass({
        outbox: opts.outbox,
        publisher: opts.publisher,
        now: () => opts.clock.now(),
        renewLease,
        window,
        batchRows,
        logger,
        metrics: undefined,
        signal,
        onSettled: (committed, dead) => onSettled(committed.length, dead),
        ...(deadLetter === undefined ? {} : { deadLetter }),
      });
      return { committed: pass.committed.length, retryableError: pass.retryableError };
    },
  });
}
