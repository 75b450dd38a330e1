/**
 * Dead-letter notices. A row NATS refuses for a permanent reason stays `dead` in the outbox (kept,
 * counted, reported); when a stream captures `<prefix>.deadletter.>`, a notice of it is also
 * published there, through the outbox like any command (durable, exactly once), so that the
 * consumers of the dead-letter stream see net-sync's failures next to their own (seed 000,
 * docs/seeds.md: failures escalate to dead-letter subjects for inspection).
 */
import { HEADER } from './command-message.js';
import type { ErrorCode } from './errors.js';
import type { NewOutboxRow, OutboxRow } from './intent.js';
import { SCHEMA_FILE } from './schema-names.js';

/** Version of the notice body and of its `Net-Sync-Schema-Version` header. */
export const DEAD_LETTER_SCHEMA_VERSION = 1;
/** Largest original body embedded in a notice; a larger one (often the reason it died) is only described. */
export const DEAD_LETTER_MAX_EMBEDDED_BYTES = 64 * 1024;
/** Prefix of a notice's own correlation ID (and `Nats-Msg-Id`): `dl-<the dead row's ID>`. */
export const DEAD_LETTER_ID_PREFIX = 'dl-';

/** The JSON body of a notice. */
export interface DeadLetterBody {
  schemaVersion: number;
  /** The dead row's correlation ID. */
  correlationId: string;
  /** Where it was to be published. */
  subject: string;
  kind: OutboxRow['kind'];
  /** NATS's refusal: `<code>: <text>`. */
  reason: string;
  /** ISO-8601 times the row was accepted and declared dead. */
  createdAt: string;
  deadAt: string;
  attempts: number;
  /** Size of the refused message body. */
  messageBytes: number;
  /**
   * The refused message, for inspection or a manual resend: its headers, and its JSON body unless
   * larger than {@link DEAD_LETTER_MAX_EMBEDDED_BYTES} or refused for its size.
   */
  message: { headers: Record<string, string>; body?: unknown };
}

/** True for the correlation ID of a notice (never a ULID, so never an intent's). */
export function isDeadLetterId(correlationId: string): boolean {
  return correlationId.startsWith(DEAD_LETTER_ID_PREFIX);
}

/** The subject of notices for rows of `kind`: `<prefix>.deadletter.<kind>`. */
export function deadLetterSubject(prefix: string, kind: OutboxRow['kind']): string {
  return `${prefix}.deadletter.${kind}`;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const TOO_LARGE: ErrorCode = 'NATS_PAYLOAD_TOO_LARGE';

// The refused body, parsed, when it is small JSON and size was not why it was refused (a notice
// carrying it would be refused too).
function embeddedBody(body: Uint8Array, reason: string): unknown {
  if (body.length > DEAD_LETTER_MAX_EMBEDDED_BYTES || reason.startsWith(`${TOO_LARGE}:`)) return undefined;
  try {
    return JSON.parse(decoder.decode(body)) as unknown;
  } catch {
    return undefined;
  }
}

const encoder = new TextEncoder();

/**
 * The notice row for `row`, declared dead for `reason` at `atMs`, or null for a row that is itself
 * a dead letter (a refused notice is kept and reported, never noticed again).
 */
export function buildDeadLetterRow(row: OutboxRow, reason: string, atMs: number, prefix: string): NewOutboxRow | null {
  if (row.subject.startsWith(`${prefix}.deadletter.`)) return null;
  const body = embeddedBody(row.body, reason);
  const notice: DeadLetterBody = {
    schemaVersion: DEAD_LETTER_SCHEMA_VERSION,
    correlationId: row.correlationId,
    subject: row.subject,
    kind: row.kind,
    reason,
    createdAt: new Date(row.createdAtMs).toISOString(),
    deadAt: new Date(atMs).toISOString(),
    attempts: row.attempts,
    messageBytes: row.body.length,
    message: { headers: row.headers, ...(body === undefined ? {} : { body }) },
  };
  const headers: Record<string, string> = {
    [HEADER.correlationId]: row.correlationId,
    [HEADER.schemaVersion]: String(DEAD_LETTER_SCHEMA_VERSION),
    [HEADER.kind]: 'dead-letter',
    [HEADER.schema]: SCHEMA_FILE.deadLetter,
  };
  for (const h of [HEADER.origin, HEADER.traceparent]) if (row.headers[h] !== undefined) headers[h] = row.headers[h];
  return {
    correlationId: `${DEAD_LETTER_ID_PREFIX}${row.correlationId}`,
    subject: deadLetterSubject(prefix, row.kind),
    body: encoder.encode(JSON.stringify(notice)),
    headers,
    kind: 'command',
    state: 'pending-commit',
    createdAtMs: atMs,
  };
}
