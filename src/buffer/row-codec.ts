/**
 * Maps outbox rows between their TypeScript shape and SQLite columns.
 */
import type { IntentState, NewOutboxRow, OutboxRow, RowKind } from '../core/intent.js';

/** A row of the `outbox` table as better-sqlite3 returns it. */
export interface OutboxRecord {
  seq: number;
  correlation_id: string;
  subject: string;
  body: Buffer;
  headers: string;
  kind: string;
  state: string;
  created_at_ms: number;
  updated_at_ms: number;
  attempts: number;
  first_attempt_at_ms: number | null;
  last_attempt_at_ms: number | null;
  last_error: string | null;
  stream: string | null;
  stream_seq: number | null;
  committed_at_ms: number | null;
  reason: string | null;
}

/** Named parameters of the insert statement. */
export interface InsertParams {
  correlationId: string;
  subject: string;
  body: Buffer;
  headers: string;
  kind: string;
  state: string;
  createdAtMs: number;
}

/** Converts a new row into insert parameters. The body is wrapped, not copied. */
export function encodeRow(row: NewOutboxRow): InsertParams {
  const b = row.body;
  return {
    correlationId: row.correlationId,
    subject: row.subject,
    body: Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    headers: JSON.stringify(row.headers),
    kind: row.kind,
    state: row.state,
    createdAtMs: row.createdAtMs,
  };
}

/** Converts a stored record into an {@link OutboxRow}; `body` is a plain Uint8Array view. */
export function decodeRow(r: OutboxRecord): OutboxRow {
  return {
    seq: r.seq,
    correlationId: r.correlation_id,
    subject: r.subject,
    body: new Uint8Array(r.body.buffer, r.body.byteOffset, r.body.byteLength),
    headers: JSON.parse(r.headers) as Record<string, string>,
    kind: r.kind as RowKind,
    state: r.state as IntentState,
    createdAtMs: r.created_at_ms,
    updatedAtMs: r.updated_at_ms,
    attempts: r.attempts,
    firstAttemptAtMs: r.first_attempt_at_ms,
    lastAttemptAtMs: r.last_attempt_at_ms,
    lastError: r.last_error,
    stream: r.stream,
    streamSeq: r.stream_seq,
    committedAtMs: r.committed_at_ms,
    reason: r.reason,
  };
}
