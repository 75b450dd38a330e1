/**
 * The gossip envelope: the versioned JSON message every net-sync node publishes on the mesh
 * topic: its schemas (zod 4), types and signature bytes; `envelope-codec.ts` decodes and
 * encodes it, the `telemetry` kind is in `telemetry-envelope.ts`, shared fields in
 * `envelope-fields.ts`. The JSON Schema in `schemas/envelope.v1.json` is generated from the
 * schemas and a unit test keeps it in sync.
 *
 * Compatibility: within `schemaVersion` 1, fields may be added (decoders strip unknown keys)
 * and kinds may be added (decoders report `unknown-kind`, which the mesh ignores without
 * penalty). Anything else is a new `schemaVersion`. Two changes made before any release broke
 * this, each said where it was made: batched intents, and packed telemetry columns
 * (`TelemetrySeriesSchema`; `telemetry.wireColumns: arrays` keeps a node sending the old form).
 */
import { z } from 'zod';
import { payloadDigest } from './digest.js';
import { MAX_INTENT_TTL_MS } from './intent.js';
import { PayloadRefSchema } from './payload-ref.js';
import {
  ENVELOPE_SCHEMA_VERSION,
  digest,
  msSinceEpoch,
  peerId,
  signature,
  streamName,
  subject,
  traceparent,
  ulid,
} from './envelope-fields.js';
import {
  MemoryTelemetryEnvelopeSchema,
  TelemetryEnvelopeSchema,
  type TelemetrySeriesSchema,
  WireTelemetryEnvelopeSchema,
} from './telemetry-envelope.js';

export { ENVELOPE_SCHEMA_VERSION } from './envelope-fields.js';
export {
  MAX_TELEMETRY_POINTS,
  MAX_TELEMETRY_SERIES,
  MAX_TELEMETRY_TAGS,
  TelemetryEnvelopeSchema,
  TelemetrySeriesSchema,
} from './telemetry-envelope.js';

/**
 * Default largest envelope, in bytes of encoded JSON: 256 KiB. It holds one intent at the API's
 * 64 KiB payload limit with room for escaping, or about 1,500 batched endorsements, and stays far
 * below gossipsub's RPC frame cap so an oversized message is refused by our validator (a
 * counted, scored verdict), never by the frame decoder (a silent stall, docs/libp2p.md, pitfall 2).
 */
export const DEFAULT_MAX_ENVELOPE_BYTES = 256 * 1024;

/** Deepest JSON nesting accepted in an envelope; deeper input could exhaust the stack. */
export const MAX_ENVELOPE_DEPTH = 64;

/** Most items in one batched envelope (proposals, endorsements or commits). */
// 1,024 keeps signature checks of one full endorsement batch under the validator's ~100 ms
// budget (gossipsub penalises slow validation) and fits 256 KiB.
export const MAX_BATCH_ITEMS = 1_024;

/** Envelope kinds this version understands. */
export const ENVELOPE_KINDS = [
  'intent.propose',
  'intent.endorse',
  'intent.committed',
  'heartbeat',
  'telemetry',
] as const;
export type EnvelopeKind = (typeof ENVELOPE_KINDS)[number];

/** One intent inside a batched `intent.propose`. */
export const ProposeItemSchema = z
  .object({
    /** ULID assigned by the proposer; also the JetStream `Nats-Msg-Id`. */
    correlationId: ulid,
    /** Target command subject, e.g. `root.solar.command.sentiment.set`. */
    subject,
    /** The agent's JSON payload, unchanged; absent when `payloadRef` is given (docs/payloads.md). */
    payload: z.json().optional(),
    /**
     * A payload above the inline limit: its object in the bucket (named by the correlation ID), with
     * its size and digest; the body itself never crosses the mesh.
     */
    payloadRef: PayloadRefSchema.optional(),
    /** `payloadDigest(payload)`: hex SHA-256 of its canonical JSON (the `payloadRef`'s digest when by reference). */
    payloadDigest: digest,
    /** Proposer's wall clock when it accepted the intent, ms since epoch. */
    createdAtMs: msSinceEpoch,
    /** How long the intent may wait for quorum, ms (at most a day). */
    ttlMs: z.number().int().positive().max(MAX_INTENT_TTL_MS),
    /** W3C trace context of the agent's request. */
    traceparent,
    /**
     * Present on a federation event (docs/federation.md, Sending with consensus on): `payload` is
     * then the event's DSSE payload as JSON text, fixed by the proposer, and `subject` the
     * partner's events subject. Nodes without federation strip it and refuse the subject.
     */
    federation: z.object({ partner: z.string().regex(/^[a-z0-9-]{1,32}$/, 'must be a partner name') }).optional(),
  })
  .refine((item) => (item.payload === undefined) !== (item.payloadRef === undefined), {
    message: 'exactly one of payload and payloadRef',
    path: ['payload'],
  });

/**
 * `intent.propose`: a node asks the cohort to endorse its intents, batched to save messages
 * (one intent per message capped a 5-node mesh at ~30 intents/s). This replaced the
 * one-intent form before any release; a released v1 would have needed a new kind instead.
 */
export const ProposeEnvelopeSchema = z.object({
  schemaVersion: z.literal(ENVELOPE_SCHEMA_VERSION),
  kind: z.literal('intent.propose'),
  /** Peer ID of the proposer of every intent; must be the gossip message's signed `from`. */
  origin: peerId,
  intents: z.array(ProposeItemSchema).min(1).max(MAX_BATCH_ITEMS),
});

/** One endorsement inside a batched `intent.endorse`. */
export const EndorsementItemSchema = z.object({
  correlationId: ulid,
  /** The digest the endorser saw and signed. */
  payloadDigest: digest,
  /** Base64url signature over `endorsementBytes(correlationId, payloadDigest)`. */
  signature,
  /**
   * A federation event's endorsement also carries the endorser's DSSE signature over the event
   * envelope's PAE, made with its federation key (`keyid`, a peer ID; `sig`, standard base64).
   */
  dsse: z
    .object({ keyid: peerId, sig: z.string().regex(/^[A-Za-z0-9+/]{16,1024}={0,2}$/, 'must be base64') })
    .optional(),
});

/** `intent.endorse`: one endorser's signatures over several intents, batched to save messages. */
export const EndorseEnvelopeSchema = z.object({
  schemaVersion: z.literal(ENVELOPE_SCHEMA_VERSION),
  kind: z.literal('intent.endorse'),
  /** Peer ID whose key made every signature; must be the gossip message's signed `from`. */
  endorser: peerId,
  endorsements: z.array(EndorsementItemSchema).min(1).max(MAX_BATCH_ITEMS),
});

/** One commit inside a batched `intent.committed`. */
export const CommitItemSchema = z.object({
  correlationId: ulid,
  /** JetStream stream that stored the command. */
  stream: streamName,
  /** Its stream sequence. */
  seq: z.number().int().positive(),
});

/** `intent.committed`: a committer reports PubAcks, batched. */
export const CommittedEnvelopeSchema = z.object({
  schemaVersion: z.literal(ENVELOPE_SCHEMA_VERSION),
  kind: z.literal('intent.committed'),
  /** Peer ID of the committer; must be the gossip message's signed `from`. */
  committer: peerId,
  commits: z.array(CommitItemSchema).min(1).max(MAX_BATCH_ITEMS),
});

/** `heartbeat`: liveness and roles, e.g. `scout` for telemetry ownership; sent by every node with a mesh. */
export const HeartbeatEnvelopeSchema = z.object({
  schemaVersion: z.literal(ENVELOPE_SCHEMA_VERSION),
  kind: z.literal('heartbeat'),
  /** The sender; must be the gossip message's signed `from`. */
  peerId,
  /** Roles this node plays. Unknown roles are kept, so new roles need no version bump. */
  roles: z.array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/)).max(16),
  /** Sender's wall clock, ms since epoch. */
  atMs: msSinceEpoch,
  /**
   * Scouts only: the first window start (ms) for which this scout has heard every origin from
   * the window's beginning. Windows that start earlier are not assigned to it, so a scout that
   * joins mid-window never becomes the owner of a window it saw only half of.
   */
  scoutSinceMs: msSinceEpoch.optional(),
  /**
   * The sender's telemetry watermark as an origin: every telemetry batch of `epoch` up to `seq`
   * was sent before `atMs`. Absent until it sent one. Scouts use it to prove they hold every
   * batch of a window before publishing it (see src/core/batch-coverage.ts).
   */
  telemetry: z.object({ epoch: msSinceEpoch, seq: z.number().int().nonnegative() }).optional(),
});

/** Any v1 envelope. */
export const EnvelopeSchema = z
  .discriminatedUnion('kind', [
    ProposeEnvelopeSchema,
    EndorseEnvelopeSchema,
    CommittedEnvelopeSchema,
    HeartbeatEnvelopeSchema,
    TelemetryEnvelopeSchema,
  ])
  .meta({ id: 'NetSyncEnvelopeV1', title: 'net-sync gossip envelope, schemaVersion 1' });

/**
 * What the codec decodes: {@link EnvelopeSchema}, with the telemetry columns checked by a loop
 * instead of a zod schema per point (same rules; a unit test compares the two on valid and
 * invalid input) and decoded to `Float64Array`s.
 */
export const WireEnvelopeSchema = z.discriminatedUnion('kind', [
  ProposeEnvelopeSchema,
  EndorseEnvelopeSchema,
  CommittedEnvelopeSchema,
  HeartbeatEnvelopeSchema,
  WireTelemetryEnvelopeSchema,
]);

/**
 * What `encodeEnvelope` checks: {@link EnvelopeSchema} as held in memory, before the telemetry
 * columns are packed (the same rules as on the wire, on `Float64Array` columns).
 */
export const MemoryEnvelopeSchema = z.discriminatedUnion('kind', [
  ProposeEnvelopeSchema,
  EndorseEnvelopeSchema,
  CommittedEnvelopeSchema,
  HeartbeatEnvelopeSchema,
  MemoryTelemetryEnvelopeSchema,
]);

export type ProposeEnvelope = z.output<typeof ProposeEnvelopeSchema>;
export type ProposeItem = z.output<typeof ProposeItemSchema>;
export type EndorseEnvelope = z.output<typeof EndorseEnvelopeSchema>;
export type EndorsementItem = z.output<typeof EndorsementItemSchema>;
export type CommittedEnvelope = z.output<typeof CommittedEnvelopeSchema>;
export type CommitItem = z.output<typeof CommitItemSchema>;
export type HeartbeatEnvelope = z.output<typeof HeartbeatEnvelopeSchema>;
export type TelemetryEnvelope = z.output<typeof TelemetryEnvelopeSchema>;
export type TelemetrySeries = z.output<typeof TelemetrySeriesSchema>;
/** Any v1 envelope, discriminated on `kind`. */
export type Envelope = z.output<typeof EnvelopeSchema>;

/**
 * The peer ID an envelope claims as its author (`origin`, `endorser`, `committer` or
 * `peerId`; `origin` for telemetry). Under StrictSign the gossip message's `from` is authenticated, so the mesh
 * rejects an envelope whose claim differs from it.
 */
export function envelopeAuthor(envelope: Envelope): string {
  switch (envelope.kind) {
    case 'intent.propose':
      return envelope.origin;
    case 'intent.endorse':
      return envelope.endorser;
    case 'intent.committed':
      return envelope.committer;
    case 'heartbeat':
      return envelope.peerId;
    case 'telemetry':
      return envelope.origin;
  }
}

/**
 * True when a proposed intent's `payloadDigest` is the digest of its `payload`; or, by reference,
 * when it carries no payload and its reference names its own correlation ID with that digest.
 */
export function proposeDigestMatches(
  item: Pick<ProposeItem, 'payload' | 'payloadDigest' | 'payloadRef'> & { correlationId?: string },
): boolean {
  if (item.payloadRef !== undefined)
    return (
      item.payload === undefined &&
      item.payloadRef.digest === item.payloadDigest &&
      (item.correlationId === undefined || item.payloadRef.name === item.correlationId)
    );
  try {
    if (item.payload === undefined) return false;
    return payloadDigest(item.payload) === item.payloadDigest;
  } catch {
    return false;
  }
}

const encoder = new TextEncoder();

/** Domain tag of endorsement signatures; a new meaning of a signature gets a new tag. */
export const ENDORSEMENT_DOMAIN = 'net-sync/endorse/v1';

/**
 * The bytes an endorser signs: UTF-8 of `net-sync/endorse/v1\n<correlationId>\n<payloadDigest>`.
 * The domain tag keeps a signature made for this purpose from being valid for any other.
 */
export function endorsementBytes(correlationId: string, payloadDigest: string): Uint8Array {
  return encoder.encode(`${ENDORSEMENT_DOMAIN}\n${correlationId}\n${payloadDigest}`);
}

/** Base64url (RFC 4648 §5, no padding) of signature bytes, as carried in envelopes. */
export function encodeSignature(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Bytes of a base64url signature, or null when `text` is not base64url. */
export function decodeSignature(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
