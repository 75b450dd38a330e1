/**
 * Config section `inbox`: committed commands delivered to the agent (docs/inbox.md).
 */
import { z } from 'zod';
import { zDurationMs } from '../../core/units.js';
import { natsSubject } from './fields.js';

/** Section `inbox`. */
export const InboxSchema = z
  .object({
    /**
     * Subjects (wildcards allowed) whose committed commands are delivered to the agent; one
     * durable consumer per entry, since nats-server 2.9 takes one filter per consumer. Empty: no inbox.
     */
    subjects: z.array(natsSubject).default([]),
    /**
     * Durable consumer name. Default: derived from this node's peer ID, so each sidecar has its
     * own; sidecars given the same name share the work.
     */
    durable: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_-]')
      .optional(),
    /** The agent's endpoint (push). Without it the agent pulls with `GET /v1/inbox`. */
    pushUrl: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL')
      .optional(),
    /** Time the agent has to answer before JetStream redelivers (the 5 s ack budget, docs/seeds.md). */
    ackWaitMs: zDurationMs.default(5_000),
    /** Deliveries before a command is dead-lettered (the 5-delivery limit, docs/seeds.md). */
    maxDeliver: z.number().int().min(1).default(5),
    /** Deliveries awaiting the agent's answer at once; 1 keeps stream order per consumer. */
    maxAckPending: z.number().int().min(1).default(1),
    /** Where a new durable starts: every stored command (`all`), or only those stored from now (`new`). */
    deliverPolicy: z.enum(['all', 'new', 'last']).default('all'),
    /** Wait before the n-th retry of a command (the last entry repeats), as JetStream's `backoff` reads. */
    backoffMs: z.array(zDurationMs).min(1).default([1_000, 5_000, 15_000, 30_000]),
    /**
     * Longest a push may stay open; meanwhile the delivery is kept in progress (JetStream
     * `working`) so a slow agent never gets a second copy. Past it the push counts as a retry.
     */
    processingTimeoutMs: zDurationMs.default(60_000),
    /** Deliver only commands whose endorsements verify against this node's cohort and quorum (consensus on). */
    verify: z.boolean().default(true),
    /**
     * Deliver a command whose payload is stored by reference (docs/payloads.md) with the payload
     * fetched from the bucket and checked against its digest; false: with the `payloadRef` as is.
     */
    resolvePayloads: z.boolean().default(true),
  })
  .strict()
  .refine((i) => i.processingTimeoutMs >= i.ackWaitMs, {
    message: 'must be at least inbox.ackWaitMs',
    path: ['processingTimeoutMs'],
  });
