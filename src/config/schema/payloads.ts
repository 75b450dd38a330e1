/**
 * The `payloads` section: payloads too large to carry inline go to a JetStream Object Store
 * bucket, and the command carries a reference (docs/payloads.md).
 */
import { z } from 'zod';
import { zBytes, zDurationMs } from '../../core/units.js';

const MiB = 1_048_576;

export const PayloadsSchema = z
  .object({
    /**
     * Largest payload carried inline in its command (compact JSON bytes); a larger one is stored in
     * the bucket and referenced. 256 KiB keeps a command far below NATS's default 1 MiB
     * `max_payload` with its headers and endorsements (seed 000, "When Not to Use NATS").
     */
    inlineMaxBytes: zBytes.default(256 * 1_024).refine((v) => v > 0 && v < MiB, 'must be above 0 and below 1 MiB'),
    /**
     * Largest payload accepted at all; larger gets 413 naming `payload`. 64 MiB: the seed's
     * "large file" case, while the API still holds a whole payload in memory (about 3× its size).
     */
    maxBytes: zBytes.default(64 * MiB).refine((v) => v > 0 && v <= 1_024 * MiB, 'must be above 0 and at most 1 GiB'),
    /** The Object Store bucket (stream `OBJ_<bucket>`), created on connect like the streams when missing. */
    bucket: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/, 'must be 1-200 characters of [A-Za-z0-9_-]')
      .default('NET_SYNC_PAYLOADS'),
    /**
     * How long the bucket keeps an object. 30 days: as long as the COMMANDS stream keeps the
     * commands that reference them, so no stored command points at an expired object.
     */
    bucketMaxAgeMs: zDurationMs.default(30 * 86_400_000),
    /** The bucket's size limit (new objects are refused past it, and retried). 8 GiB; -1 = unlimited. */
    bucketMaxBytes: zBytes.default(8_192 * MiB),
    /** Replicas of the bucket's stream: 1, or 3 on a cluster. */
    replicas: z.union([z.literal(1), z.literal(3)]).default(1),
  })
  .strict()
  .refine((p) => p.maxBytes >= p.inlineMaxBytes, {
    message: 'must be at least payloads.inlineMaxBytes',
    path: ['maxBytes'],
  });

/** The validated `payloads` section. */
export type PayloadsConfig = z.output<typeof PayloadsSchema>;
