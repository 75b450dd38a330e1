/**
 * The JSON bodies net-sync publishes, as zod schemas, and the JSON Schema files under `schemas/`
 * generated from them (`npm run schemas`; a unit test fails when a file is stale). Each message
 * names its file in `Net-Sync-Schema` (`schema-names.ts`, docs/contracts.md#body-schemas).
 *
 * The bodies themselves are built elsewhere (`command-message.ts`, `dead-letter.ts`, …) as typed
 * values; the type checks at the end of this file fail the build when a body's type drifts from
 * its schema, and an integration test validates real published messages against the files.
 * Within a version fields may be added, so every object admits properties it does not list.
 */
import { z } from 'zod';
import type { CommandBody } from './command-message.js';
import type { DeadLetterBody } from './dead-letter.js';
import { digest, msSinceEpoch, peerId, signature, subject, ulid } from './envelope-fields.js';
import { EnvelopeSchema } from './envelope.js';
import {
  EVENT_TYPE,
  FEDERATION_ACK_TYPE,
  FEDERATION_EVENT_TYPE,
  type FederationAckPayload,
  type FederationEventPayload,
  ORG_NAME,
} from './federation-message.js';
import { FEDERATION_REASONS } from './federation-trust.js';
import type { DeliveryDeadLetterBody, InboxCommand } from './inbox.js';
import { PayloadRefSchema } from './payload-ref.js';
import { SCHEMA_FILE } from './schema-names.js';
import type { TelemetrySummary } from './telemetry-summary.js';

const isoTime = z.iso.datetime();

/**
 * A body carries its payload inline or by reference, never both, never neither: the issue names
 * the field that should go (`payloadRef`) or come (`payload`). In the JSON Schema it is a `oneOf`.
 */
function exactlyOnePayload(body: { payload?: unknown; payloadRef?: unknown }, ctx: z.RefinementCtx): void {
  const inline = 'payload' in body && body.payload !== undefined;
  const byRef = 'payloadRef' in body && body.payloadRef !== undefined;
  if (inline && byRef)
    ctx.addIssue({ code: 'custom', path: ['payloadRef'], message: 'payloadRef: must be absent when payload is given' });
  else if (!inline && !byRef)
    ctx.addIssue({ code: 'custom', path: ['payload'], message: 'payload: is required (or payloadRef instead)' });
}
// Each branch names its property too, as ajv's strict mode wants (`strictRequired`).
const ONE_PAYLOAD = {
  oneOf: [
    { properties: { payload: {} }, required: ['payload'] },
    { properties: { payloadRef: {} }, required: ['payloadRef'] },
  ],
};
const count = z.number().int().nonnegative();
const text = z.string().min(1);

/** A committed command (docs/contracts.md#messages). */
export const CommandBodySchema = z
  .looseObject({
    schemaVersion: z.literal(1),
    correlationId: ulid,
    subject,
    payload: z.json().optional().meta({ description: 'The agent payload; absent when payloadRef is set' }),
    payloadRef: PayloadRefSchema.optional(),
    origin: peerId,
    proposedAt: isoTime,
    payloadDigest: digest.optional(),
    endorsements: z.array(z.looseObject({ peerId, signature })),
    shard: z
      .string()
      .regex(/^shard-\d+-of-\d+$/)
      .optional(),
  })
  .superRefine(exactlyOnePayload)
  .meta({
    title: 'net-sync command',
    description: 'The body of a committed command on <prefix>.command.*',
    ...ONE_PAYLOAD,
  });

/** A telemetry summary (docs/contracts.md#telemetry-summary); the fields after `tags` are extras. */
export const TelemetrySummarySchema = z
  .looseObject({
    schemaVersion: z.literal(1),
    metric: text,
    origin: peerId,
    windowStart: msSinceEpoch,
    windowEnd: msSinceEpoch,
    count: count,
    sum: z.number(),
    min: z.number(),
    max: z.number(),
    mean: z.number(),
    p50: z.number(),
    p95: z.number(),
    p99: z.number(),
    tags: z.record(z.string(), z.string()),
    firstTs: msSinceEpoch.optional(),
    lastTs: msSinceEpoch.optional(),
    epoch: msSinceEpoch.optional(),
    part: count.optional(),
    late: z.boolean().optional(),
    straggler: z.boolean().optional(),
    relativeAccuracy: z.number().optional(),
  })
  .meta({ title: 'net-sync telemetry summary', description: 'One burst window of one metric, <prefix>.telemetry.*' });

const outboxDepth = z.looseObject({ proposed: count, pendingCommit: count, inFlight: count, dead: count });

/** A peer health report (docs/telemetry.md). */
export const PeerHealthSchema = z
  .looseObject({
    schemaVersion: z.literal(1),
    peerId,
    atMs: msSinceEpoch,
    connections: count,
    meshPeers: z.record(z.string(), count),
    pingRttMs: z.record(z.string(), z.number().nullable()),
    scores: z.record(z.string(), z.number()),
    validatorRejects: z.record(z.string(), count),
    outbox: z.looseObject({ command: outboxDepth, telemetry: outboxDepth, telemetryDroppedTotal: count }),
    scouts: z.looseObject({ live: count, expected: count }),
  })
  .meta({ title: 'net-sync peer health', description: 'A node’s mesh and outbox health, periodically' });

const latency = z.looseObject({ count, p50Ms: z.number(), p99Ms: z.number(), maxMs: z.number() });

/** A pipeline lag report (docs/telemetry.md). */
export const PipelineLagSchema = z
  .looseObject({
    schemaVersion: z.literal(1),
    peerId,
    atMs: msSinceEpoch,
    intervalMs: count,
    oldestPendingIntentAgeMs: count,
    commitLatency: latency,
    telemetryWindowLag: latency,
  })
  .meta({ title: 'net-sync pipeline lag', description: 'Commit latency and backlog age since the last report' });

/** The outbox's dead-letter notice (docs/exactly-once.md#dead-letters). */
export const DeadLetterSchema = z
  .looseObject({
    schemaVersion: z.literal(1),
    correlationId: text,
    subject: text,
    kind: z.enum(['command', 'telemetry']),
    reason: z.string(),
    createdAt: isoTime,
    deadAt: isoTime,
    attempts: count,
    messageBytes: count,
    message: z.looseObject({ headers: z.record(z.string(), z.string()), body: z.json().optional() }),
  })
  .meta({
    title: 'net-sync dead-letter notice',
    description: 'A message NATS refused for good, <prefix>.deadletter.*',
  });

/** The inbox's delivery dead-letter notice (docs/inbox.md#dead-letter-notices). */
export const DeliveryDeadLetterSchema = z
  .looseObject({
    schemaVersion: z.literal(1),
    stage: z.literal('delivery'),
    correlationId: text,
    subject: text,
    kind: z.literal('command'),
    reason: z.string(),
    consumer: text,
    stream: text,
    streamSeq: z.number().int().positive(),
    deliveryCount: count,
    createdAt: isoTime,
    deadAt: isoTime,
  })
  .meta({ title: 'net-sync delivery dead-letter notice', description: 'A command the agent will never apply' });

/** The inbox's push body, POSTed to the agent (docs/inbox.md). */
export const InboxCommandSchema = z
  .looseObject({
    correlationId: text,
    subject: text,
    payload: z.json().optional().meta({ description: 'The payload; absent when payloadRef is given instead' }),
    payloadRef: PayloadRefSchema.optional(),
    streamSeq: z.number().int().positive(),
    deliveryCount: z.number().int().positive(),
    publishedAt: isoTime,
    verified: z.boolean(),
    endorsers: z.array(z.string()).optional(),
  })
  .superRefine(exactlyOnePayload)
  .meta({
    title: 'net-sync inbox command',
    description: 'A committed command as the agent receives it',
    ...ONE_PAYLOAD,
  });

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be standard base64');
const orgName = z.string().regex(ORG_NAME);
// As federation-message.ts checks it: a `Nats-Msg-Id`, visible ASCII.
const eventId = z.string().regex(/^[\x21-\x7e]{1,128}$/);

function dsse(payloadType: string, payloadFile: string) {
  return z.looseObject({
    payloadType: z.literal(payloadType),
    payload: base64.meta({ description: `base64 of UTF-8 JSON following ${payloadFile}` }),
    signatures: z.array(z.looseObject({ keyid: z.string(), sig: base64 })).min(1),
  });
}

/** A federation event: a DSSE envelope (docs/federation.md#the-envelope). */
export const FederationEventSchema = dsse(FEDERATION_EVENT_TYPE, SCHEMA_FILE.federationEventPayload).meta({
  title: 'net-sync federation event',
  description: 'A DSSE envelope signed for a partner organisation',
});

/** The payload of a federation event, once decoded. */
export const FederationEventPayloadSchema = z
  .looseObject({
    schemaVersion: z.literal(1),
    eventId,
    from: orgName,
    to: orgName,
    type: z.string().regex(EVENT_TYPE),
    payload: z.json(),
    createdAt: isoTime,
    origin: text,
  })
  .meta({ title: 'net-sync federation event payload' });

/** A federation receipt: a DSSE envelope. */
export const FederationAckSchema = dsse(FEDERATION_ACK_TYPE, SCHEMA_FILE.federationAckPayload).meta({
  title: 'net-sync federation receipt',
  description: 'A DSSE envelope a partner signs for an event it received',
});

/** The payload of a federation receipt, once decoded. */
export const FederationAckPayloadSchema = z
  .looseObject({
    schemaVersion: z.literal(1),
    eventId,
    msgId: eventId,
    digest,
    status: z.enum(['accepted', 'rejected']),
    reason: z.enum(FEDERATION_REASONS).optional(),
    from: orgName,
    to: orgName,
    receivedAt: isoTime,
  })
  .meta({ title: 'net-sync federation receipt payload' });

/** Every file under `schemas/` and the zod schema it is generated from. */
export const SCHEMA_SOURCES: ReadonlyArray<{ file: string; schema: z.ZodType }> = [
  { file: SCHEMA_FILE.command, schema: CommandBodySchema },
  { file: SCHEMA_FILE.telemetrySummary, schema: TelemetrySummarySchema },
  { file: SCHEMA_FILE.peerHealth, schema: PeerHealthSchema },
  { file: SCHEMA_FILE.pipelineLag, schema: PipelineLagSchema },
  { file: SCHEMA_FILE.deadLetter, schema: DeadLetterSchema },
  { file: SCHEMA_FILE.deliveryDeadLetter, schema: DeliveryDeadLetterSchema },
  { file: SCHEMA_FILE.inboxCommand, schema: InboxCommandSchema },
  { file: SCHEMA_FILE.federationEvent, schema: FederationEventSchema },
  { file: SCHEMA_FILE.federationEventPayload, schema: FederationEventPayloadSchema },
  { file: SCHEMA_FILE.federationAck, schema: FederationAckSchema },
  { file: SCHEMA_FILE.federationAckPayload, schema: FederationAckPayloadSchema },
  { file: SCHEMA_FILE.payloadRef, schema: PayloadRefSchema },
  // The gossip envelope (not a NATS body), generated the same way.
  { file: 'envelope.v1.json', schema: EnvelopeSchema },
];

/** The text of a schema file: JSON Schema (draft 2020-12) of the schema's input, 2-space JSON. */
export function jsonSchemaText(schema: z.ZodType): string {
  return `${JSON.stringify(z.toJSONSchema(schema, { io: 'input' }), null, 2)}\n`;
}

// Every field of a body as built is in its schema: a field added or renamed without its schema
// fails the build here (a retyped one fails the integration test that validates real messages).
type Unlisted<Body, Schema extends z.ZodType> = Exclude<keyof Body, keyof z.input<Schema>>;
type NoneUnlisted<T extends never> = T;
/** Never: compiles only while every body's fields are in its schema. */
export type BodiesInSchemas = NoneUnlisted<
  | Unlisted<CommandBody, typeof CommandBodySchema>
  | Unlisted<TelemetrySummary, typeof TelemetrySummarySchema>
  | Unlisted<DeadLetterBody, typeof DeadLetterSchema>
  | Unlisted<DeliveryDeadLetterBody, typeof DeliveryDeadLetterSchema>
  | Unlisted<InboxCommand, typeof InboxCommandSchema>
  | Unlisted<FederationEventPayload, typeof FederationEventPayloadSchema>
  | Unlisted<FederationAckPayload, typeof FederationAckPayloadSchema>
>;
