/**
 * Receipts (acks) of federation events (docs/federation.md, Receipts): the ack payload's bytes,
 * its outbox row, the verdict on a receipt read back from a partner, and what a valid receipt
 * does to the event it names. Also the ledger ports both sides keep (what was received, what
 * was acknowledged). Pure, apart from the verifier port.
 */
import { HEADER } from './command-message.js';
import { sha256Hex } from './digest.js';
import { decodeEnvelope, type DsseEnvelope, encodeEnvelope } from './dsse.js';
import {
  checkAckPayload,
  FEDERATION_ACK_TYPE,
  FEDERATION_KIND,
  FEDERATION_SCHEMA_VERSION,
  type FederationAckPayload,
  PARTNER_HEADER,
} from './federation-message.js';
import { checkThreshold, type FederationReason, type SignatureVerifier, type TrustedKey } from './federation-trust.js';
import type { NewOutboxRow } from './intent.js';
import { SCHEMA_FILE } from './schema-names.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const VISIBLE = /^[\x21-\x7e]{1,128}$/;

/** `Nats-Msg-Id` (and outbox ID) of the receipt of message `msgId` whose digest is `digest`. */
export function ackMsgId(msgId: string, digest: string): string {
  return `ack-${msgId}-${digest.slice(0, 16)}`;
}

/**
 * The name a receipt gives the message it acknowledges: its `Nats-Msg-Id`, or, when it has none
 * (or one a receipt cannot carry), `<stream>:<seq>` of where our stream stored it.
 */
export function receivedMsgName(msgId: string | undefined, stream: string, streamSeq: number): string {
  return msgId !== undefined && VISIBLE.test(msgId) ? msgId : `${stream}:${streamSeq}`.slice(0, 128);
}

/** The lower-case hex SHA-256 of an event's DSSE payload bytes, or of the whole body when it has none readable. */
export function eventDigest(message: Uint8Array): string {
  const d = decodeEnvelope(message);
  return sha256Hex(d.ok ? d.envelope.body : message);
}

/** The `eventId` of a message's event payload when it can be read (signed or not), else undefined. */
export function peekEventId(message: Uint8Array): string | undefined {
  const d = decodeEnvelope(message);
  if (!d.ok) return undefined;
  try {
    const parsed = JSON.parse(decoder.decode(d.envelope.body)) as { eventId?: unknown } | null;
    const id = parsed?.eventId;
    if (typeof id === 'string' && VISIBLE.test(id)) return id;
  } catch {
    // not JSON: no event ID
  }
  return undefined;
}

/** The serialized body of a receipt envelope: UTF-8 JSON, fields in the contract's order. */
export function ackPayloadBytes(a: FederationAckPayload): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      schemaVersion: a.schemaVersion,
      eventId: a.eventId,
      msgId: a.msgId,
      digest: a.digest,
      status: a.status,
      ...(a.reason === undefined ? {} : { reason: a.reason }),
      from: a.from,
      to: a.to,
      receivedAt: a.receivedAt,
    }),
  );
}

/** Inputs of a receipt's outbox row. */
export interface FederationAckRowInput {
  ack: FederationAckPayload;
  envelope: DsseEnvelope;
  /** Our acks subject. */
  subject: string;
  /** This sidecar's peer ID (`Net-Sync-Origin`). */
  origin: string;
  traceparent: string;
  createdAtMs: number;
}

/**
 * The outbox row of a receipt: ID (so `Nats-Msg-Id`) `ack-<msgId>-<16 hex of digest>`, so a
 * second receipt of the same message is the same row; `Net-Sync-Kind: federation-ack`;
 * `Net-Sync-Partner` the event's sender. Kind `command`, as events (never dropped).
 */
export function buildFederationAckRow(input: FederationAckRowInput): NewOutboxRow {
  const id = ackMsgId(input.ack.msgId, input.ack.digest);
  return {
    correlationId: id,
    subject: input.subject,
    body: encodeEnvelope(input.envelope),
    headers: {
      [HEADER.correlationId]: id,
      [HEADER.kind]: FEDERATION_KIND.ack,
      [HEADER.schemaVersion]: String(FEDERATION_SCHEMA_VERSION),
      [PARTNER_HEADER]: input.ack.to,
      [HEADER.origin]: input.origin,
      [HEADER.traceparent]: input.traceparent,
      [HEADER.schema]: SCHEMA_FILE.federationAck,
    },
    kind: 'command',
    state: 'pending-commit',
    createdAtMs: input.createdAtMs,
  };
}

/** What the sender knows when it reads one receipt from a partner. */
export interface AckContext {
  /** The partner whose acks subject it came on. */
  partner: string;
  /** Our `federation.name`. */
  us: string;
  keys: readonly TrustedKey[];
  threshold: number;
  /** When our stream stored the receipt (ms): key windows are judged at this time. */
  storedAtMs: number;
  verifier: SignatureVerifier;
}

/** The verdict on a receipt: valid (with who signed it), or why not. */
export type AckVerdict =
  | { ok: true; ack: FederationAckPayload; signers: string[] }
  | { ok: false; reason: FederationReason; detail?: string };

/**
 * Judges one receipt: a DSSE envelope of the ack type, signed by at least `threshold` distinct
 * keys of the partner valid when our stream stored it, a valid ack payload, from the partner and
 * to us. Never throws.
 */
export async function judgeAck(message: Uint8Array, ctx: AckContext): Promise<AckVerdict> {
  const decoded = decodeEnvelope(message);
  if (!decoded.ok) return { ok: false, reason: 'malformed', detail: decoded.message };
  const env = decoded.envelope;
  if (env.payloadType !== FEDERATION_ACK_TYPE) return { ok: false, reason: 'payload-type' };
  const trust = await checkThreshold(env, ctx.keys, ctx.threshold, ctx.storedAtMs, ctx.verifier);
  if (!trust.ok) return { ok: false, reason: trust.reason };
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(env.body));
  } catch {
    return { ok: false, reason: 'malformed', detail: 'payload: is not UTF-8 JSON' };
  }
  const checked = checkAckPayload(parsed);
  if (!checked.ok) return { ok: false, reason: 'malformed', detail: checked.message };
  if (checked.value.from !== ctx.partner) return { ok: false, reason: 'wrong-sender' };
  if (checked.value.to !== ctx.us) return { ok: false, reason: 'wrong-recipient' };
  return { ok: true, ack: checked.value, signers: trust.signers };
}

/** Every result of reading a receipt (`net_sync_federation_acks_total{result}`). */
export const ACK_RESULTS = ['applied', 'invalid', 'unknown-event', 'digest-mismatch', 'duplicate'] as const;
export type AckResult = (typeof ACK_RESULTS)[number];

/** An outgoing event as the sender holds it, for {@link classifyAck}. */
export interface SentEvent {
  eventId: string;
  partner: string;
  /** Digest of its DSSE payload bytes. */
  digest: string;
  /** A receipt was applied to it already. */
  acked: boolean;
}

/**
 * What a valid receipt from `partner` does: `applied` only when it names an event we sent to that
 * partner (the message we published, `msgId` = `eventId`) with the same digest and no receipt
 * yet; `unknown-event` when we sent no such event to it (or the receipt is about another message),
 * `digest-mismatch` when the digest differs, `duplicate` when one was applied already.
 */
export function classifyAck(ack: FederationAckPayload, partner: string, sent: SentEvent | undefined): AckResult {
  if (sent === undefined || sent.partner !== partner || ack.msgId !== sent.eventId) return 'unknown-event';
  if (ack.digest !== sent.digest) return 'digest-mismatch';
  if (sent.acked) return 'duplicate';
  return 'applied';
}

/** Where a received event stands: recorded (receipt queued), then delivered, dropped by the agent, or exhausted. */
export type ReceivedState = 'accepted' | 'delivered' | 'dropped' | 'dead';

/** An event received from a partner and accepted, as the receiver records it. */
export interface ReceivedEvent {
  partner: string;
  eventId: string;
  digest: string;
  msgId: string;
  stream: string;
  streamSeq: number;
  state: ReceivedState;
  receivedAtMs: number;
}

/** The receiver's record of accepted events, durable in the outbox file. */
export interface ReceivedEvents {
  /** The event `eventId` accepted from `partner`, if any. */
  get(partner: string, eventId: string): ReceivedEvent | undefined;
  /** The event from `partner` whose payload digest is `digest`, if any (a byte copy under another ID). */
  byDigest(partner: string, digest: string): ReceivedEvent | undefined;
  /** Durably records an accepted event (on disk when it returns); a known (partner, eventId) is left as it is. */
  record(e: ReceivedEvent): void;
  /**
   * Records several accepted events in one transaction; known ones are left as they are. Durably
   * (one fsync) unless `durable` is false: then the next durable write to the same file makes it
   * durable too (SQLite's WAL is one ordered log), and the caller must make one before relying on it.
   */
  recordMany(events: readonly ReceivedEvent[], opts?: { durable?: boolean }): void;
  /** Moves a recorded event to `state`. */
  settle(partner: string, eventId: string, state: ReceivedState): void;
  /** Moves several recorded events in one transaction; durably unless `durable` is false (as `recordMany`). */
  settleMany(
    items: ReadonlyArray<{ partner: string; eventId: string; state: ReceivedState }>,
    opts?: { durable?: boolean },
  ): void;
  /** Counts by partner: accepted events received. */
  countByPartner(): Map<string, number>;
}

/** A receipt applied to one of our events. */
export interface AppliedAck {
  eventId: string;
  partner: string;
  status: 'accepted' | 'rejected';
  reason?: FederationReason;
  signers: string[];
  /** `Nats-Msg-Id` of the receipt message. */
  ackMsgId: string;
  appliedAtMs: number;
}

/** The sender's ledger of receipts applied, durable in the outbox file. */
export interface AppliedAcks {
  get(eventId: string): AppliedAck | undefined;
  /** Those of `eventIds` that have a receipt applied (one read for all of them). */
  appliedAmong(eventIds: readonly string[]): Set<string>;
  /** Stores the receipt unless one is there for the event; true when it was stored. */
  apply(a: AppliedAck): boolean;
  /**
   * {@link apply} for several receipts in one durable transaction (one fsync); for each, in order,
   * true when it was stored (false for an event that had one, also earlier in the same list).
   */
  applyMany(list: readonly AppliedAck[]): boolean[];
  /** Every receipt applied, by partner. */
  list(partner?: string): AppliedAck[];
}

/** One partner's figures (`GET /v1/federation/partners`). */
export interface PartnerStatus {
  name: string;
  send: boolean;
  receive: boolean;
  /** Events committed to it: acked + rejected + unacked. */
  sent: number;
  acked: number;
  rejected: number;
  /** Committed, no receipt applied yet. */
  unacked: number;
  oldestUnackedAgeMs: number;
  /** When the last receipt was applied (ISO-8601), if any. */
  lastAckAt?: string;
  /** Receipts from it not applied (invalid, unknown event, digest mismatch, duplicate) since start. */
  acksRefused: number;
  /** Events accepted from it. */
  received: number;
  /** Messages on its events subject refused since start. */
  refused: number;
}

/** A committed event without a receipt after the ack timeout. */
export interface FederationGap {
  partner: string;
  eventId: string;
  streamSeq: number;
  ageMs: number;
}

/** The whole answer of `GET /v1/federation/partners`. */
export interface FederationStatus {
  partners: PartnerStatus[];
  gaps: FederationGap[];
  rejected: Array<{ partner: string; eventId: string; reason: string }>;
}
