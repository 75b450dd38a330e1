/**
 * Config section `commit`: how the outbox commits to JetStream (window, batches, retries).
 */
import { z } from 'zod';
import { zDurationMs } from '../../core/units.js';

/** Section `commit`. */
export const CommitSchema = z
  .object({
    /** PubAcks in flight at once. 1,024 matches the raw baseline we compare against. */
    window: z.number().int().positive().default(1_024),
    /** Rows claimed per round. */
    batchRows: z.number().int().positive().default(512),
    /** First retry delay after NATS fails. */
    backoffBaseMs: zDurationMs.default(100),
    /** Longest delay between retries while NATS is away: short enough to replay promptly. */
    backoffMaxMs: zDurationMs.default(5_000),
    /**
     * Wall-clock slack subtracted from a row's first attempt time when scanning the stream
     * for it, to cover clock skew between this host and the server.
     */
    scanSkewMs: zDurationMs.default(5_000),
    /**
     * Accept WorkQueue or Interest streams on our subjects. They delete what was consumed, so a
     * row whose PubAck was lost cannot be looked up and is republished: exactly once then holds
     * only within the stream's duplicate window (which must be at least 10 min). Off: such a
     * stream stops the sidecar (exit 2, naming it).
     */
    dedupeOnlyWithinDuplicateWindow: z.boolean().default(false),
  })
  .strict();
