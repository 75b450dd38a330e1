/**
 * The gossip envelope: the versioned JSON message every net-sync node publishes on the mesh
 * topic: its schemas (zod 4), types and signature bytes; `envelope-codec.ts` decodes and
 * encodes it. The JSON Schema in `schemas/envelope.v1.json` is generated from the schemas and a
 * unit test keeps it in sync.
 *
 * Compatibility: within `schemaVersion` 1, fields may be added (decoders strip unknown keys)
 * and kinds may be added (decoders report `unknown-kind`, which the mesh ignores without
 * penalty). Anything else is a new `schemaVersion`.
 */
import { z } from 'zod';
import { payloadDigest } from './digest.js';
import { MAX_INTENT_TTL_MS } from './intent.js';
import { numberColumn } from './number-column.js';

/** The envelope version this code writes and reads. */
export const ENVELOPE_SCHEMA_VERSION = 1;

/**
 * Default largest envelope, in bytes of encoded JSON: 256 KiB. It holds one intent at the API's
 * 64 KiB payload limit with room for escaping, or about 1,500 batched endorsements, and stays far
 * below gossipsub's RPC frame cap so an oversized message is refused by our validator (a
 * counted, scored verdict), never by the frame decoder (a silent stall, LIBP2P-NOTES pitfall 2).
 */
export const DEFAULT_MAX_ENVELOPE_BYTES = 256 * 1024;

/** Deepest JSON nesting accepted in an envelope; deeper input could exhaust the stack. */
export const MAX_ENVELOPE_DEPTH = 64;

/** Most items in one batched envelope (proposals, endorsements or commits). */
// 1,024 keeps signature checks of one full endorsement batch under the validator's ~100 ms
// budget (gossipsub penalises slow validation) and fits 256 KiB.
export const MAX_BATCH_ITEMS = 1_024;

/** Envelope kinds this version understands. */
export const ENVELOPE_KINDS = ['intent.propose', 'intent.endorse', 'intent.committed', 'heartbeat', 'telemetry'] as const;
export type EnvelopeKind = (typeof ENVELOPE_KINDS)[number];

const ulid = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be a ULID');
// libp2p peer IDs as strings: base58btc multihash (12D3Koo…, Qm…) or a base32 CID (b…).
const peerId = z.string().regex(/^[A-Za-z0-9]{32,128}$/, 'must be a libp2p peer ID');
const digest = z.string().regex(/^[0-9a-f]{64}$/, 'must be lower-case hex SHA-256');
const subject = z
  .string()
  .max(256)
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/, 'must be a concrete NATS subject');
const msSinceEpoch = z.number().int().nonnegative();
const traceparent = z
  .string()
  .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'must be a W3C traceparent');
// Ed25519 signatures are 64 bytes (86 base64url characters); the bound leaves room for other key types.
const signature = z.string().regex(/^[A-Za-z0-9_-]{16,1024}$/, 'must be base64url without padding');
const streamName = z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a JetStream stream name');

/** One intent inside a batched `intent.propose`. */
export const ProposeItemSchema = z.object({
  /** ULID assigned by the proposer; also the JetStream `Nats-Msg-Id`. */
  correlationId: ulid,
  /** Target command subject, e.g. `root.solar.command.sentiment.set`. */
  subject,
  /** The agent's JSON payload, unchanged. */
  payload: z.json(),
  /** `payloadDigest(payload)`: hex SHA-256 of its canonical JSON. */
  payloadDigest: digest,
  /** Proposer's wall clock when it accepted the intent, ms since epoch. */
  createdAtMs: msSinceEpoch,
  /** How long the intent may wait for quorum, ms (at most a day). */
  ttlMs: z.number().int().positive().max(MAX_INTENT_TTL_MS),
  /** W3C trace context of the agent's request. */
  traceparent,
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

/** Most points in one `telemetry` envelope: 8,192 points of ~40 JSON bytes stay far under 256 KiB. */
export const MAX_TELEMETRY_POINTS = 8_192;
/** Most series chunks in one `telemetry` envelope. */
export const MAX_TELEMETRY_SERIES = 1_024;
/** Most tags on one point. */
export const MAX_TELEMETRY_TAGS = 8;

const metricName = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,7}$/, 'must be 1-8 dot-separated tokens of [A-Za-z0-9_-]');
const tagKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'must be a tag key');
const tags = z
  .record(tagKey, z.string().max(128))
  .refine((t) => Object.keys(t).length <= MAX_TELEMETRY_TAGS, `at most ${MAX_TELEMETRY_TAGS} tags`);

/**
 * The telemetry schemas, built around the given `ts` and `v` column schemas: zod arrays for the
 * declared schemas (and so the JSON Schema), loop-checked columns with the same rules for the
 * codec (see `number-column.ts`).
 */
function telemetrySchemas(ts: z.ZodType<number[]>, v: z.ZodType<number[]>) {
  const series = z
    .object({
      metric: metricName,
      /** Bounded tags; absent when none. Keys sorted by the origin. */
      tags: tags.optional(),
      /** Start of the window, ms since epoch, a multiple of the envelope's `windowMs`. */
      window: msSinceEpoch,
      /** Which `windowMaxPoints`-sized part of the window, by the origin's point ordinal. */
      part: z.number().int().nonnegative(),
      /** True for points that were late (or early) at the origin, summarised apart in `window`. */
      late: z.boolean().optional(),
      /** Origin timestamps of the points, ms since epoch. */
      ts,
      /** Values; finite numbers (JSON has no NaN or Infinity). */
      v,
    })
    .refine((s) => s.ts.length === s.v.length, { message: 'ts and v differ in length', path: ['v'] });
  const envelope = z.object({
    schemaVersion: z.literal(ENVELOPE_SCHEMA_VERSION),
    kind: z.literal('telemetry'),
    /** The agent host's peer ID; must be the gossip message's signed `from`. */
    origin: peerId,
    /** The origin's start time, ms: part ordinals restart with it, so it is part of every key. */
    epoch: msSinceEpoch,
    /** Batch number within the epoch, from 0; a gap tells a scout it missed a batch. */
    seq: z.number().int().nonnegative(),
    /** Origin's wall clock when it sent the batch, ms since epoch. */
    sentAtMs: msSinceEpoch,
    /** The origin's window length, ms. */
    windowMs: z.number().int().positive().max(3_600_000),
    series: z
      .array(series)
      .min(1)
      .max(MAX_TELEMETRY_SERIES)
      .refine((all) => all.reduce((n, s) => n + s.ts.length, 0) <= MAX_TELEMETRY_POINTS, `at most ${MAX_TELEMETRY_POINTS} points in all`),
  });
  return { series, envelope };
}

const declaredTelemetry = telemetrySchemas(
  z.array(msSinceEpoch).min(1).max(MAX_TELEMETRY_POINTS),
  z.array(z.number()).min(1).max(MAX_TELEMETRY_POINTS),
);

/**
 * One series chunk: points of one (metric, tags) that the origin assigned to one window part.
 * Columnar (`ts[i]`, `v[i]`) to keep the JSON small: `ts` holds 1 to MAX_TELEMETRY_POINTS
 * integer ms since epoch, `v` as many finite numbers.
 */
export const TelemetrySeriesSchema = declaredTelemetry.series;

/**
 * `telemetry`: a batch of the origin's points, grouped by series and window. Windows, parts and
 * lateness are decided by the origin, so every scout that receives the batch files each point
 * under the same key (see `src/core/telemetry-window.ts`).
 */
export const TelemetryEnvelopeSchema = declaredTelemetry.envelope;

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
 * What the codec checks: {@link EnvelopeSchema}, with the telemetry columns checked by a loop
 * instead of a zod schema per point (same rules; a unit test compares the two on valid and
 * invalid input).
 */
export const WireEnvelopeSchema = z.discriminatedUnion('kind', [
  ProposeEnvelopeSchema,
  EndorseEnvelopeSchema,
  CommittedEnvelopeSchema,
  HeartbeatEnvelopeSchema,
  telemetrySchemas(numberColumn('ms-since-epoch', 1, MAX_TELEMETRY_POINTS), numberColumn('finite', 1, MAX_TELEMETRY_POINTS)).envelope,
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

/** True when a proposed intent's `payloadDigest` is the digest of its `payload`. */
export function proposeDigestMatches(item: Pick<ProposeItem, 'payload' | 'payloadDigest'>): boolean {
  try {
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
