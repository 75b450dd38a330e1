/**
 * Retention of the outbox: settled rows (committed, expired, rejected) older than the
 * retention are deleted in small batches, so the SQLite file stops growing with history.
 * Open rows and dead rows are never touched.
 */
import { hasCode } from '../core/errors.js';
import type { Clock, Outbox } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import type { Counter } from 'prom-client';

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
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly opts: OutboxPrunerOptions) {}

  start(): void {
    if (this.loop !== null) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = null;
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

  private async run(signal: AbortSignal): Promise<void> {
    const intervalMs = this.opts.intervalMs ?? 60_000;
    while (!signal.aborted) {
      try {
        await this.pruneOnce(signal);
        await this.opts.clock.sleep(intervalMs, signal);
      } catch (err) {
        if (signal.aborted || hasCode(err, 'ABORTED')) return;
        // Never throw into the void: the outbox keeps working unpruned until the next round.
        this.opts.logger.warn({ err }, 'outbox prune failed');
        await this.opts.clock.sleep(intervalMs, signal).catch(() => undefined);
      }
    }
  }
}
