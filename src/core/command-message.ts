/**
 * The JetStream message net-sync publishes for a committed intent: a versioned JSON body
 * and the header set of docs/contracts.md. Built once, stored in the outbox, republished byte for byte.
 */
import type { NewOutboxRow } from './intent.js';
import type { PayloadRef } from './payload-ref.js';
import { SCHEMA_FILE } from './schema-names.js';

/** Version of the command body and of the `Net-Sync-Schema-Version` header. */
export const COMMAND_SCHEMA_VERSION = 1;

/** Header names (docs/contracts.md). */
export const HEADER = {
  msgId: 'Nats-Msg-Id',
  correlationId: 'Net-Sync-Correlation-Id',
  schemaVersion: 'Net-Sync-Schema-Version',
  origin: 'Net-Sync-Origin',
  traceparent: 'traceparent',
  endorsers: 'Net-Sync-Endorsers',
  kind: 'Net-Sync-Kind',
  /**
   * The JSON Schema of the body: its file under `schemas/` in the package, e.g. `command.v1.json` (schema-names.ts).
   */
  schema: 'Net-Sync-Schema',
  /** The home shard that endorsed a fleet member's command (`shard-<i>-of-<n>`); absent for a cohort. */
  shard: 'Net-Sync-Shard',
  /** `<bucket>/<name>` of the object holding the payload, on a command that carries a `payloadRef`. */
  payloadRef: 'Net-Sync-Payload-Ref',
} as const;

/** One endorsement: a peer's signature over (correlationId, payload digest). */
export interface Endorsement {
  /** libp2p peer ID of the endorser. */
  peerId: string;
  /** Base64url signature by the peer's libp2p key. */
  signature: string;
}

/** The JSON body of a command message. */
export interface CommandBody {
  schemaVersion: number;
  correlationId: string;
  subject: string;
  /** The agent's payload, unchanged; absent when the body carries `payloadRef` instead. */
  payload?: unknown;
  /** Where the payload is when it was too large to carry inline (docs/payloads.md). */
  payloadRef?: PayloadRef;
  /** Peer ID of the proposer. */
  origin: string;
  /** ISO-8601 time the intent was accepted. */
  proposedAt: string;
  /** Hex SHA-256 of the canonical payload, the value endorsers sign with the correlation ID. */
  payloadDigest?: string;
  /** The endorser set, so that any consumer can verify the quorum offline. */
  endorsements: Endorsement[];
  /** The home shard whose members endorsed it (a fleet, docs/fleet.md); absent for a cohort or consensus off. */
  shard?: string;
}

/** Inputs to build a command row. */
export interface CommandInput {
  correlationId: string;
  subject: string;
  payload: unknown;
  /** Set for a payload stored by reference: the body carries it instead of `payload`. */
  payloadRef?: PayloadRef;
  origin: string;
  traceparent: string;
  createdAtMs: number;
  payloadDigest?: string;
  endorsements?: Endorsement[];
  /**
   * Consensus off: the origin alone is the quorum, so `Net-Sync-Endorsers` names it (without a
   * signature: there was no endorsement round). Ignored when `endorsements` are given.
   */
  soleEndorser?: boolean;
  /** The endorsing home shard's name (a fleet); also sent as `Net-Sync-Shard`. */
  shard?: string | null;
  state?: NewOutboxRow['state'];
}

const encoder = new TextEncoder();

/** Builds the outbox row (body bytes and headers) for a command intent. */
export function buildCommandRow(input: CommandInput): NewOutboxRow {
  const endorsements = input.endorsements ?? [];
  const body: CommandBody = {
    schemaVersion: COMMAND_SCHEMA_VERSION,
    correlationId: input.correlationId,
    subject: input.subject,
    ...(input.payloadRef === undefined ? { payload: input.payload } : { payloadRef: input.payloadRef }),
    origin: input.origin,
    proposedAt: new Date(input.createdAtMs).toISOString(),
    ...(input.payloadDigest === undefined ? {} : { payloadDigest: input.payloadDigest }),
    endorsements,
    ...(input.shard == null ? {} : { shard: input.shard }),
  };
  const headers: Record<string, string> = {
    [HEADER.correlationId]: input.correlationId,
    [HEADER.schemaVersion]: String(COMMAND_SCHEMA_VERSION),
    [HEADER.origin]: input.origin,
    [HEADER.traceparent]: input.traceparent,
    [HEADER.kind]: 'command',
    [HEADER.schema]: SCHEMA_FILE.command,
  };
  if (endorsements.length > 0) headers[HEADER.endorsers] = endorsements.map((e) => e.peerId).join(',');
  else if (input.soleEndorser === true) headers[HEADER.endorsers] = input.origin;
  if (input.shard != null) headers[HEADER.shard] = input.shard;
  if (input.payloadRef !== undefined)
    headers[HEADER.payloadRef] = `${input.payloadRef.bucket}/${input.payloadRef.name}`;
  return {
    correlationId: input.correlationId,
    subject: input.subject,
    body: encoder.encode(JSON.stringify(body)),
    headers,
    kind: 'command',
    state: input.state ?? 'pending-commit',
    createdAtMs: input.createdAtMs,
  };
}
