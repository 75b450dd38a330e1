/**
 * Config section `buffer`: the SQLite outbox file, its durability and retention.
 */
import { z } from 'zod';
import { MAX_INTENT_TTL_MS } from '../../core/intent.js';
import { zDurationMs } from '../../core/units.js';

/** Shortest non-zero `buffer.retainSettledMs`: the longest intent TTL plus an hour of clock skew. */
export const MIN_RETAIN_SETTLED_MS = MAX_INTENT_TTL_MS + 3_600_000;
/** Section `buffer`. */
export const BufferSchema = z
  .object({
    /** SQLite outbox file. Relative to the working directory. */
    path: z.string().min(1).default('./net-sync.db'),
    /** FULL: an accepted intent survives power loss, not just a process crash. */
    synchronous: z.enum(['FULL', 'NORMAL', 'EXTRA']).default('FULL'),
    /** Rows per group-commit transaction; bounds the latency one batch adds. */
    groupCommitMaxRows: z.number().int().positive().default(1_000),
    /**
     * Cap on buffered telemetry rows; past it the oldest telemetry is dropped and counted. Intents are never dropped.
     */
    telemetryCap: z.number().int().positive().default(100_000),
    /**
     * Settled rows (committed, expired, rejected) are deleted this long after they settled;
     * 0 keeps them forever. Two days: a day of history for `reconcile --verify` and intent
     * lookups, on top of the longest intent TTL (24 h), so a late copy of a proposal is refused
     * as expired before its ID can be forgotten. The floor adds an hour for the proposer's clock
     * running ahead. Dead rows are never pruned.
     */
    retainSettledMs: zDurationMs
      .refine(
        (v) => v === 0 || v >= MIN_RETAIN_SETTLED_MS,
        `must be 0 (keep forever) or at least ${MIN_RETAIN_SETTLED_MS / 3_600_000} h ` +
          '(the longest intent TTL, 24 h, plus 1 h of clock skew)',
      )
      .default(2 * 86_400_000),
  })
  .strict();
