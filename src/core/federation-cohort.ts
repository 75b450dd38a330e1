/**
 * Federation events signed by the cohort (docs/federation.md, Sending with consensus on): an event
 * travels through consensus like an intent, its proposal carrying the event's DSSE payload as JSON
 * text fixed by the proposer, so that every endorser signs the same PAE bytes with its federation
 * key. Here: the port the consensus driver asks (check, sign, verify), the endorser's check, and
 * the outbox rows of an event while it is `proposed` and once it is promoted. Pure.
 */
import { buildCommandRow, type CommandBody, type Endorsement, HEADER } from './command-message.js';
import { base64Encode, type DsseSignature } from './dsse.js';
import {
  buildFederationEventRow,
  checkEventPayload,
  eventPayloadBytes,
  FEDERATION_EVENT_TYPE,
  FEDERATION_KIND,
  PARTNER_HEADER,
  type ProposedEventPart,
} from './federation-message.js';
import type { NewOutboxRow } from './intent.js';

/** What the consensus driver asks of federation for an event (the `federation` of a proposal). */
export interface CohortFederation {
  /** Why this node does not endorse the proposed event (a bounded reason), or null when it does. */
  check(item: CohortEventProposal, origin: string): string | null;
  /** This node's DSSE signature over the event whose payload is `text`, with its federation key. */
  sign(text: string): Promise<DsseSignature>;
  /** True when `sig`'s key is one of `federation.signers` and it verifies over the event's PAE. */
  verify(sig: DsseSignature, text: string): Promise<boolean>;
}

/** The fields of a proposal the endorser's check reads. */
/** A federation event handed to the cohort: its DSSE payload text fixed once, for every endorser. */
export interface CohortEvent {
  eventId: string;
  partner: string;
  /** The partner's events subject. */
  subject: string;
  /** The event's DSSE payload: UTF-8 JSON text in the contract's form (docs/federation.md). */
  text: string;
  traceparent: string;
  createdAtMs: number;
}

export interface CohortEventProposal {
  correlationId: string;
  subject: string;
  payload: unknown;
  federation?: { partner: string } | undefined;
}

/** What an endorser knows of its own federation config. */
export interface CohortEventRules {
  /** Our `federation.name`: every event's `from`. */
  us: string;
  /** Our `send` partners and the subject each one's events go to. */
  partners: ReadonlyMap<string, string>;
  /** Largest event payload text accepted, bytes (the agent's limit plus room for the fields). */
  maxTextBytes: number;
}

/** Why an endorser refuses a proposed event; bounded (logged and counted as `rejected`). */
export type CohortEventRefusal =
  | 'partner-not-allowed'
  | 'subject-mismatch'
  | 'event-malformed'
  | 'event-mismatch'
  | 'payload-too-large';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The endorser's check of a proposed event: `partner` is one of its own `send` partners, the
 * subject is that partner's events subject in its own config, and the text is a valid event
 * payload in the contract's form from us to that partner, with `eventId` the proposal's ID and
 * `origin` its proposer.
 */
export function checkCohortEvent(
  item: CohortEventProposal,
  origin: string,
  rules: CohortEventRules,
): CohortEventRefusal | null {
  const partner = item.federation?.partner;
  if (partner === undefined || !rules.partners.has(partner)) return 'partner-not-allowed';
  if (rules.partners.get(partner) !== item.subject) return 'subject-mismatch';
  if (typeof item.payload !== 'string') return 'event-malformed';
  if (encoder.encode(item.payload).length > rules.maxTextBytes) return 'payload-too-large';
  let parsed: unknown;
  try {
    parsed = JSON.parse(item.payload);
  } catch {
    return 'event-malformed';
  }
  const checked = checkEventPayload(parsed);
  if (!checked.ok) return 'event-malformed';
  const e = checked.value;
  if (e.eventId !== item.correlationId || e.from !== rules.us || e.to !== partner || e.origin !== origin)
    return 'event-mismatch';
  // The contract's form exactly: no field added, none reordered.
  if (decoder.decode(eventPayloadBytes(e)) !== item.payload) return 'event-malformed';
  return null;
}

/** Inputs of an event's rows. */
export interface CohortEventRowInput {
  correlationId: string;
  subject: string;
  partner: string;
  /** The event's DSSE payload as JSON text. */
  text: string;
  payloadDigest: string;
  origin: string;
  traceparent: string;
  createdAtMs: number;
  /** The endorsements (mesh signatures) held or final. */
  endorsements: Endorsement[];
  /** peer ID → its DSSE signature. */
  dsse: ReadonlyMap<string, DsseSignature>;
  shard?: string | null;
}

/**
 * The row of an event still `proposed`: a command body (so that a restart reloads it as any
 * proposal) with `federation: {partner, signatures}`, and the event's kind and partner headers
 * (so that `GET /v1/federation/events/:id` finds it). Never published in this form.
 */
export function proposedEventRow(input: CohortEventRowInput): NewOutboxRow {
  const base = buildCommandRow({
    correlationId: input.correlationId,
    subject: input.subject,
    payload: input.text,
    origin: input.origin,
    traceparent: input.traceparent,
    createdAtMs: input.createdAtMs,
    payloadDigest: input.payloadDigest,
    endorsements: input.endorsements,
    shard: input.shard ?? null,
    state: 'proposed',
  });
  const body = JSON.parse(decoder.decode(base.body)) as CommandBody & { federation: ProposedEventPart };
  body.federation = {
    partner: input.partner,
    signatures: [...input.dsse].map(([peerId, s]) => ({ peerId, keyid: s.keyid, sig: s.sig })),
  };
  return {
    ...base,
    body: encoder.encode(JSON.stringify(body)),
    headers: { ...base.headers, [HEADER.kind]: FEDERATION_KIND.event, [PARTNER_HEADER]: input.partner },
  };
}

/**
 * The row of a promoted event: the DSSE envelope carrying the DSSE signatures of `endorsements`
 * (in their order: sorted by peer ID), with the contract's headers. The message committed.
 */
export function promotedEventRow(input: CohortEventRowInput): NewOutboxRow {
  const signatures: DsseSignature[] = [];
  for (const e of input.endorsements) {
    const s = input.dsse.get(e.peerId);
    if (s !== undefined) signatures.push({ keyid: s.keyid, sig: s.sig });
  }
  return buildFederationEventRow({
    eventId: input.correlationId,
    partner: input.partner,
    subject: input.subject,
    envelope: {
      payloadType: FEDERATION_EVENT_TYPE,
      payload: base64Encode(encoder.encode(input.text)),
      signatures,
    },
    origin: input.origin,
    traceparent: input.traceparent,
    createdAtMs: input.createdAtMs,
  });
}
