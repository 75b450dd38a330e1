/**
 * The federation messages (docs/federation.md): the event and receipt payloads carried in DSSE
 * envelopes, their validators, the agent's submission, the subjects, and the outbox row of an
 * outgoing event. Pure.
 */
import { HEADER } from './command-message.js';
import { decodeEnvelope, type DsseEnvelope, type DsseSignature, encodeEnvelope } from './dsse.js';
import { NetSyncError } from './errors.js';
import { payloadDigest } from './digest.js';
import { FEDERATION_REASONS, type FederationReason } from './federation-trust.js';
import { keyedCorrelationId } from './idempotency.js';
import type { NewOutboxRow } from './intent.js';
import { keyField } from './json-body.js';
import { SCHEMA_FILE } from './schema-names.js';
import { exceedsDepth, MAX_PAYLOAD_DEPTH } from './json-depth.js';

/** `payloadType` of an event envelope. */
export const FEDERATION_EVENT_TYPE = 'application/vnd.root-solar.federation.event.v1+json';
/** `payloadType` of a receipt (ack) envelope. */
export const FEDERATION_ACK_TYPE = 'application/vnd.root-solar.federation.ack.v1+json';
/** Version of both payloads and of `Net-Sync-Schema-Version` on federation messages. */
export const FEDERATION_SCHEMA_VERSION = 1;
/** `Net-Sync-Kind` of an event and of a receipt. */
export const FEDERATION_KIND = { event: 'federation-event', ack: 'federation-ack' } as const;
/** `Net-Sync-Partner`: the partner an event is addressed to. */
export const PARTNER_HEADER = 'Net-Sync-Partner';

/** An organisation's name as its partners know it: one subject token. */
export const ORG_NAME = /^[a-z0-9-]{1,32}$/;
/** An event's `type`. */
export const EVENT_TYPE = /^[A-Za-z0-9._-]{1,64}$/;
// An event ID is a `Nats-Msg-Id`: visible ASCII, bounded so it fits the control line.
const EVENT_ID = /^[\x21-\x7e]{1,128}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** The payload of an event envelope (UTF-8 JSON, base64 in the envelope). */
export interface FederationEventPayload {
  schemaVersion: 1;
  /** Also the message's `Nats-Msg-Id`. */
  eventId: string;
  /** The sending organisation's `federation.name`. */
  from: string;
  /** The partner it is addressed to. */
  to: string;
  /** The agent's event type, 1–64 of `[A-Za-z0-9._-]`. */
  type: string;
  /** The agent's payload, unchanged. */
  payload: unknown;
  /** ISO-8601 time the sidecar accepted it. */
  createdAt: string;
  /** Peer ID of the sidecar that accepted it. */
  origin: string;
}

/** The payload of a receipt envelope. */
export interface FederationAckPayload {
  schemaVersion: 1;
  eventId: string;
  /** `Nats-Msg-Id` of the message acknowledged. */
  msgId: string;
  /** Lower-case hex SHA-256 of the event's DSSE payload bytes (of the whole body when it had none). */
  digest: string;
  status: 'accepted' | 'rejected';
  reason?: FederationReason;
  /** The receiving organisation (who signs the receipt). */
  from: string;
  /** The sender of the event. */
  to: string;
  /** ISO-8601 time the receiver recorded it. */
  receivedAt: string;
}

/** A validator's outcome: the value, or the first field that is wrong. */
export type Checked<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

function bad<T>(field: string, message: string): Checked<T> {
  return { ok: false, field, message: `${field}: ${message}` };
}

function isIsoTime(v: unknown): boolean {
  return typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) && Number.isFinite(Date.parse(v));
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** Checks an event payload (already parsed from JSON); the failure names the field. */
export function checkEventPayload(value: unknown): Checked<FederationEventPayload> {
  const r = asRecord(value);
  if (r === null) return bad('payload', 'must be a JSON object');
  if (r['schemaVersion'] !== FEDERATION_SCHEMA_VERSION) return bad('schemaVersion', 'must be 1');
  if (typeof r['eventId'] !== 'string' || !EVENT_ID.test(r['eventId']))
    return bad('eventId', 'must be 1-128 visible ASCII characters');
  for (const f of ['from', 'to'] as const)
    if (typeof r[f] !== 'string' || !ORG_NAME.test(r[f])) return bad(f, 'must be 1-32 characters of [a-z0-9-]');
  if (typeof r['type'] !== 'string' || !EVENT_TYPE.test(r['type']))
    return bad('type', 'must be 1-64 characters of [A-Za-z0-9._-]');
  if (!('payload' in r) || r['payload'] === undefined) return bad('payload.payload', 'is required');
  if (!isIsoTime(r['createdAt'])) return bad('createdAt', 'must be an ISO-8601 time');
  if (typeof r['origin'] !== 'string' || r['origin'].length === 0) return bad('origin', 'must be a peer ID');
  return { ok: true, value: r as unknown as FederationEventPayload };
}

/** Checks a receipt payload (already parsed from JSON); the failure names the field. */
export function checkAckPayload(value: unknown): Checked<FederationAckPayload> {
  const r = asRecord(value);
  if (r === null) return bad('payload', 'must be a JSON object');
  if (r['schemaVersion'] !== FEDERATION_SCHEMA_VERSION) return bad('schemaVersion', 'must be 1');
  for (const f of ['eventId', 'msgId'] as const)
    if (typeof r[f] !== 'string' || !EVENT_ID.test(r[f])) return bad(f, 'must be 1-128 visible ASCII characters');
  if (typeof r['digest'] !== 'string' || !HEX64.test(r['digest'])) return bad('digest', 'must be 64 lower-case hex');
  if (r['status'] !== 'accepted' && r['status'] !== 'rejected') return bad('status', 'must be accepted or rejected');
  const reason = r['reason'];
  if (reason !== undefined && !(FEDERATION_REASONS as readonly unknown[]).includes(reason))
    return bad('reason', `must be one of ${FEDERATION_REASONS.join(', ')}`);
  if (r['status'] === 'rejected' && reason === undefined) return bad('reason', 'is required when rejected');
  for (const f of ['from', 'to'] as const)
    if (typeof r[f] !== 'string' || !ORG_NAME.test(r[f])) return bad(f, 'must be 1-32 characters of [a-z0-9-]');
  if (!isIsoTime(r['receivedAt'])) return bad('receivedAt', 'must be an ISO-8601 time');
  return { ok: true, value: r as unknown as FederationAckPayload };
}

/** A valid `POST /v1/federation/events` body. */
export interface FederationEventInput {
  partner: string;
  type: string;
  payload: unknown;
}

function invalid(field: string, message: string): NetSyncError {
  return new NetSyncError('INPUT_INVALID', `${field}: ${message}`, { field });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Checks an agent's event submission; throws INPUT_INVALID naming `body`, `partner` (not a
 * partner we may send to), `type` or `payload` (missing, too deep, over `maxPayloadBytes`).
 */
export function parseFederationEventInput(
  body: unknown,
  limits: { sendPartners: ReadonlySet<string>; maxPayloadBytes: number },
): FederationEventInput {
  const r = asRecord(body);
  if (r === null) throw invalid('body', 'must be a JSON object {partner, type, payload}');
  for (const key of Object.keys(r))
    if (key !== 'partner' && key !== 'type' && key !== 'payload')
      throw invalid(keyField(key), 'unknown field (expected partner, type, payload)');
  const partner = r['partner'];
  if (typeof partner !== 'string' || !limits.sendPartners.has(partner))
    throw invalid('partner', 'must name a partner of federation.partners with send: true');
  const type = r['type'];
  if (typeof type !== 'string' || !EVENT_TYPE.test(type))
    throw invalid('type', 'must be 1-64 characters of [A-Za-z0-9._-]');
  if (!('payload' in r) || r['payload'] === undefined) throw invalid('payload', 'is required');
  if (exceedsDepth(r['payload'], MAX_PAYLOAD_DEPTH))
    throw invalid('payload', `nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
  const bytes = encoder.encode(JSON.stringify(r['payload'])).length;
  if (bytes > limits.maxPayloadBytes)
    throw invalid('payload', `is ${bytes} bytes, over the limit of ${limits.maxPayloadBytes}`);
  return { partner, type, payload: r['payload'] };
}

/** Subjects of one partner: our events to it, its receipts to us (overrides win). */
export function partnerSubjects(
  prefix: string,
  partner: { name: string; eventsSubject?: string | undefined; acksSubject?: string | undefined },
): { events: string; acks: string } {
  return {
    events: partner.eventsSubject ?? `${prefix}.federation.outbound.events.${partner.name}`,
    acks: partner.acksSubject ?? `${prefix}.federation.inbound.acks.${partner.name}`,
  };
}

/**
 * Subjects of a partner we receive from: its events to us, and our receipts to it. The defaults
 * name us (`us`, our `federation.name`), as the sender names its partner; the partner's
 * `eventsSubject` / `acksSubject` override them (a partner whose prefix differs).
 */
export function inboundSubjects(
  prefix: string,
  us: string,
  partner: { eventsSubject?: string | undefined; acksSubject?: string | undefined },
): { events: string; acks: string } {
  return {
    events: partner.eventsSubject ?? `${prefix}.federation.outbound.events.${us}`,
    acks: partner.acksSubject ?? `${prefix}.federation.inbound.acks.${us}`,
  };
}

/**
 * The event ID of a keyed event: {@link keyedCorrelationId} of the key in a namespace of its
 * own (a key holds no newline, so no intent key maps to the same ID).
 */
export function keyedEventId(idempotencyKey: string): string {
  return keyedCorrelationId(`federation-event\n${idempotencyKey}`);
}

/** One endorser's DSSE signature, kept with its peer ID while a cohort's event is `proposed`. */
export interface HeldDsseSignature extends DsseSignature {
  peerId: string;
}

/** In the body of a `proposed` event row (consensus on): its partner and the DSSE signatures held so far. */
export interface ProposedEventPart {
  partner: string;
  signatures: HeldDsseSignature[];
}

/** The `federation` part of a stored `proposed` event body, or undefined for any other body. */
export function proposedEventOf(body: { federation?: unknown }): ProposedEventPart | undefined {
  const f = body.federation as ProposedEventPart | undefined;
  if (typeof f !== 'object' || f === null || typeof f.partner !== 'string' || !Array.isArray(f.signatures))
    return undefined;
  return f;
}

/**
 * The event's DSSE payload bytes from a stored event row's body: the envelope's payload, or the
 * text of a `proposed` event. Undefined when neither can be read.
 */
export function storedEventPayload(body: Uint8Array): Uint8Array | undefined {
  const d = decodeEnvelope(body);
  if (d.ok) return d.envelope.body;
  try {
    const parsed = JSON.parse(decoder.decode(body)) as { payload?: unknown; federation?: unknown };
    if (proposedEventOf(parsed) !== undefined && typeof parsed.payload === 'string')
      return encoder.encode(parsed.payload);
  } catch {
    // not JSON
  }
  return undefined;
}

/** The event payload inside an event envelope, or undefined when it cannot be read. */
export function eventOfEnvelope(bytes: Uint8Array): FederationEventPayload | undefined {
  const d = decodeEnvelope(bytes);
  return d.ok ? eventOfPayload(d.envelope.body) : undefined;
}

/** The event payload of a stored event row (an envelope, or a `proposed` event), or undefined. */
export function eventOfStoredRow(bytes: Uint8Array): FederationEventPayload | undefined {
  const body = storedEventPayload(bytes);
  return body === undefined ? undefined : eventOfPayload(body);
}

function eventOfPayload(body: Uint8Array): FederationEventPayload | undefined {
  try {
    const checked = checkEventPayload(JSON.parse(decoder.decode(body)));
    return checked.ok ? checked.value : undefined;
  } catch {
    return undefined;
  }
}

/** Throws IDEMPOTENCY_CONFLICT (422 naming `idempotency-key`) unless the stored event is this submission. */
export function assertSameEvent(stored: Uint8Array, input: FederationEventInput): void {
  const e = eventOfStoredRow(stored);
  let same = false;
  try {
    same =
      e !== undefined &&
      e.to === input.partner &&
      e.type === input.type &&
      payloadDigest(e.payload) === payloadDigest(input.payload);
  } catch {
    same = false;
  }
  if (!same)
    throw new NetSyncError(
      'IDEMPOTENCY_CONFLICT',
      'idempotency-key: already used for an event with another partner, type or payload',
      { field: 'idempotency-key' },
    );
}

/** The serialized body of an event envelope: UTF-8 JSON, fields in the contract's order. */
export function eventPayloadBytes(e: FederationEventPayload): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      schemaVersion: e.schemaVersion,
      eventId: e.eventId,
      from: e.from,
      to: e.to,
      type: e.type,
      payload: e.payload,
      createdAt: e.createdAt,
      origin: e.origin,
    }),
  );
}

/** Inputs of an outgoing event's outbox row. */
export interface FederationEventRowInput {
  eventId: string;
  partner: string;
  subject: string;
  envelope: DsseEnvelope;
  origin: string;
  traceparent: string;
  createdAtMs: number;
}

/**
 * The outbox row of an outgoing event: body the DSSE JSON envelope, headers of the contract.
 * Kind `command`: committed exactly once like a command, never dropped like telemetry
 * (docs/federation.md says why no kind of its own).
 */
export function buildFederationEventRow(input: FederationEventRowInput): NewOutboxRow {
  return {
    correlationId: input.eventId,
    subject: input.subject,
    body: encodeEnvelope(input.envelope),
    headers: {
      [HEADER.correlationId]: input.eventId,
      [HEADER.kind]: FEDERATION_KIND.event,
      [HEADER.schemaVersion]: String(FEDERATION_SCHEMA_VERSION),
      [PARTNER_HEADER]: input.partner,
      [HEADER.origin]: input.origin,
      [HEADER.traceparent]: input.traceparent,
      [HEADER.schema]: SCHEMA_FILE.federationEvent,
    },
    kind: 'command',
    state: 'pending-commit',
    createdAtMs: input.createdAtMs,
  };
}

/** What the API shows of one outgoing event (`GET /v1/federation/events/:id`). */
export interface FederationEventView {
  eventId: string;
  partner: string;
  /** The outbox state (`pending-commit`, `in-flight`, `committed`, `dead`), or `acked` / `rejected` by a receipt. */
  state: string;
  streamSeq?: number;
  /** When the receipt was applied (ISO-8601). */
  ackedAt?: string;
  /** The partner's receipt: its status, reason when rejected, and the keys whose signatures held. */
  ack?: { status: 'accepted' | 'rejected'; reason?: FederationReason; signers: string[] };
}
