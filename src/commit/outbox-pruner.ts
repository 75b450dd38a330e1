/**
 * Retention of the outbox: settled rows (committed, expired, rejected) older than the
 * retention are deleted in small batches, so the SQLite file stops growing with history.
 * Open rows and dead rows are never touched.
 */
import type { Clock, Outbox } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import type { Counter } from 'prom-client';
import { PeriodicTask } from '../runtime/periodic-task.js';

/** Collaborators and tuning of the pruner. */
export interface OutboxPrunerOptions {
  outbox: Outbox;
  clock: Clock;
  logger: Logger;
  /** Rows settled longer ago than this are deleted. */
  retainMs: number;
  /** Time between prune rounds. Default 60 s. */
  intervalMs?: number;
  /** Rows deleted per transaction: each holds the write lock for a few ms. Default 2,000. */
  batchRows?: number;
  /** Most rows deleted per round, so a first run on a large file spreads out. Default 100,000. */
  maxRowsPerRound?: number;
  /** Counts deleted rows. */
  pruned?: Counter;
}

/** Deletes old settled rows every `intervalMs`. start() once, stop() to end. Safe twice. */
export class OutboxPruner {
  private readonly task: PeriodicTask;

  constructor(private readonly opts: OutboxPrunerOptions) {
    this.task = new PeriodicTask({
      clock: opts.clock,
      logger: opts.logger,
      periodMs: opts.intervalMs ?? 60_000,
      runAtStart: true,
      // The outbox keeps working unpruned until the next round.
      failureMessage: 'outbox prune failed',
      round: (signal) => this.pruneOnce(signal),
    });
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }

  /**
   * One round: deletes batch after batch until a batch comes back short or the round's cap
   * is reached, yielding to the event loop between batches. Returns the rows deleted.
   */
  async pruneOnce(signal?: AbortSignal): Promise<number> {
    const { outbox, clock } = this.opts;
    const batch = this.opts.batchRows ?? 2_000;
    const cap = this.opts.maxRowsPerRound ?? 100_000;
    const before = clock.now() - this.opts.retainMs;
    let total = 0;
    while (total < cap && !signal?.aborted) {
      const n = outbox.pruneSettled(before, Math.min(batch, cap - total));
      total += n;
      this.opts.pruned?.inc(n);
      if (n < batch) break;
      await clock.sleep(0, signal);
    }
    if (total > 0) this.opts.logger.info({ rows: total, settledBeforeMs: before }, 'outbox pruned');
    return total;
  }
}
