/**
 * Consumers as code: the declarative durable JetStream consumer spec (`streams[].consumers`), the
 * rules nats-server 2.9 enforces that can be checked before asking it, and the pure diff between a
 * desired consumer and what a server holds. Which fields the server refuses to change in place was
 * measured on nats-server 2.9.10 (docs/configuration.md#consumers).
 */
import { z } from 'zod';
import { zDurationMs } from './units.js';

/** The server's default ack wait (30 s), used when the spec gives none and no backoff. */
export const DEFAULT_ACK_WAIT_MS = 30_000;

// -1 (unlimited) or at least 1: the server stores 0 as -1, which would read back as drift.
const unlimitedOrPositive = z
  .number()
  .int()
  .refine((n) => n === -1 || n >= 1, 'must be -1 (unlimited) or at least 1');

/** One durable consumer, as written in config under its stream (`streams[].consumers`). */
export const ConsumerSpecSchema = z
  .object({
    /** Durable name, e.g. `workflow-processor`. */
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 letters, digits, "_" and "-" only'),
    /** pull (the client fetches) or push (the server sends to `deliverSubject`). Fixed once created. */
    mode: z.enum(['pull', 'push']).default('pull'),
    /** Push only, required there: the subject the server delivers to. */
    deliverSubject: z.string().min(1).optional(),
    /** Only messages on this subject (wildcards allowed; within the stream's subjects). Absent = all. */
    filterSubject: z.string().min(1).optional(),
    /** Where a new consumer starts. Fixed once created. `last-per-subject` needs `filterSubject`. */
    deliverPolicy: z.enum(['all', 'last', 'new', 'last-per-subject']).default('all'),
    /** explicit (each message), all (cumulative) or none. Fixed once created. */
    ackPolicy: z.enum(['explicit', 'all', 'none']).default('explicit'),
    /**
     * Time to ack before redelivery (default 30 s, the server's). With `backoff` the server uses the
     * first step instead, so a different `ackWait` is refused.
     */
    ackWait: zDurationMs.optional(),
    /** Deliveries of one message at most; -1 unlimited (the server's default). */
    maxDeliver: unlimitedOrPositive.default(-1),
    /** Unacknowledged messages at once; -1 unlimited. 1000 is the server's default. */
    maxAckPending: unlimitedOrPositive.default(1000),
    /** Redelivery delays, one per attempt (the last repeats); needs `maxDeliver` above their count. */
    backoff: z.array(zDurationMs).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
    if (c.mode === 'push' && c.deliverSubject === undefined) issue('deliverSubject', 'required when mode is push');
    if (c.mode === 'pull' && c.deliverSubject !== undefined) issue('deliverSubject', 'only a push consumer has one');
    if (c.deliverPolicy === 'last-per-subject' && c.filterSubject === undefined)
      issue('filterSubject', 'required with deliverPolicy last-per-subject');
    if (c.backoff.length > 0 && c.maxDeliver !== -1 && c.maxDeliver <= c.backoff.length)
      issue('maxDeliver', `must be above the ${c.backoff.length} backoff steps (or -1)`);
    if (c.backoff.length > 0 && c.ackWait !== undefined && c.ackWait !== c.backoff[0])
      issue('ackWait', 'with backoff the server waits the first backoff step; drop ackWait or make them equal');
    if (c.ackPolicy === 'none' && c.backoff.length > 0) issue('backoff', 'needs an ack policy other than none');
  })
  .transform((c) => ({ ...c, ackWait: c.backoff[0] ?? c.ackWait ?? DEFAULT_ACK_WAIT_MS }));

/** A validated consumer spec; durations in ms. `ackWait` is what the server will hold. */
export type ConsumerSpec = z.output<typeof ConsumerSpecSchema>;

/**
 * Refusals that depend on the stream: a WorkQueue stream takes only explicit-ack, deliver-all
 * consumers (nats-server err_code 10098 and 10101), and names are unique. Each issue names its
 * key relative to the stream (`consumers.<i>.<field>`).
 */
export function consumerIssues(
  retention: string,
  consumers: readonly ConsumerSpec[],
): Array<{ path: Array<string | number>; message: string }> {
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  const seen = new Set<string>();
  consumers.forEach((c, i) => {
    if (seen.has(c.name)) out.push({ path: ['consumers', i, 'name'], message: `duplicate consumer ${c.name}` });
    seen.add(c.name);
    if (retention !== 'workqueue') return;
    if (c.ackPolicy !== 'explicit')
      out.push({ path: ['consumers', i, 'ackPolicy'], message: 'a workqueue stream needs ackPolicy explicit' });
    if (c.deliverPolicy !== 'all')
      out.push({ path: ['consumers', i, 'deliverPolicy'], message: 'a workqueue stream needs deliverPolicy all' });
  });
  return out;
}

/** One field that differs between the desired consumer and the server. */
export interface ConsumerFieldDrift {
  field: keyof ConsumerSpec;
  want: unknown;
  have: unknown;
}

/** The difference for one consumer of one stream. */
export type ConsumerDiff =
  | { stream: string; consumer: string; action: 'create' }
  | { stream: string; consumer: string; action: 'update'; drift: ConsumerFieldDrift[] }
  | { stream: string; consumer: string; action: 'none' };

/** Fields nats-server 2.9 refuses to change on an existing consumer (err_code 10012, measured on 2.9.10). */
export const IMMUTABLE_CONSUMER_FIELDS: ReadonlyArray<keyof ConsumerSpec> = ['mode', 'deliverPolicy', 'ackPolicy'];

const COMPARED: ReadonlyArray<keyof ConsumerSpec> = [
  'mode',
  'deliverSubject',
  'filterSubject',
  'deliverPolicy',
  'ackPolicy',
  'ackWait',
  'maxDeliver',
  'maxAckPending',
  'backoff',
];

// With ack none the server keeps neither an ack wait nor an ack-pending limit.
const NOT_WITH_ACK_NONE: ReadonlyArray<keyof ConsumerSpec> = ['ackWait', 'maxAckPending'];

/** Pure diff of a desired consumer against the server's (undefined = absent). */
export function diffConsumer(stream: string, want: ConsumerSpec, have: ConsumerSpec | undefined): ConsumerDiff {
  if (have === undefined) return { stream, consumer: want.name, action: 'create' };
  const drift: ConsumerFieldDrift[] = [];
  for (const field of COMPARED) {
    if (want.ackPolicy === 'none' && NOT_WITH_ACK_NONE.includes(field)) continue;
    const a = want[field];
    const b = have[field];
    const same = Array.isArray(a) && Array.isArray(b) ? a.join(',') === b.join(',') : a === b;
    if (!same) drift.push({ field, want: a, have: b });
  }
  return drift.length === 0
    ? { stream, consumer: want.name, action: 'none' }
    : { stream, consumer: want.name, action: 'update', drift };
}
