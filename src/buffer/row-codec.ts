/**
 * Maps outbox rows between their TypeScript shape and the log's SQLite records: a row as
 * appended (`outbox_log`), its mark if it has one (`outbox_marks`), and the state derived from
 * both and the batch records (outbox-log.ts).
 */
import type { IntentState, NewOutboxRow, OutboxRow, RowKind } from '../core/intent.js';

/** A row of `outbox_log` as better-sqlite3 returns it. */
export interface LogRecord {
  seq: number;
  correlation_id: string;
  subject: string;
  body: Buffer;
  headers: string;
  kind: string;
  created_at_ms: number;
  /** Set when the row's own append claimed it: one attempt at that time. */
  claimed_at_ms: number | null;
}

/** What deriving and changing a row's state read of it. */
export type LogKey = Pick<LogRecord, 'seq' | 'correlation_id' | 'kind' | 'created_at_ms' | 'claimed_at_ms'>;

/** A row of `outbox_marks`: the whole state of a row no batch record can describe. */
export interface MarkRecord {
  seq: number;
  kind: string;
  state: string;
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

/** A row's state as derived: everything of an {@link OutboxRow} that is not appended once. */
export interface RowState
  extends Pick<
    OutboxRow,
    | 'state'
    | 'attempts'
    | 'firstAttemptAtMs'
    | 'lastAttemptAtMs'
    | 'lastError'
    | 'updatedAtMs'
    | 'stream'
    | 'streamSeq'
    | 'committedAtMs'
    | 'reason'
  > {
  /** True when the state comes from the row's mark (and every change must go there). */
  marked: boolean;
}

/** Named parameters of the insert statement. */
export interface InsertParams {
  correlationId: string;
  subject: string;
  body: Buffer;
  headers: string;
  kind: string;
  createdAtMs: number;
  claimedAt: number | null;
}

/** Converts a new row into insert parameters. The body is wrapped, not copied. */
export function encodeRow(row: NewOutboxRow, claimedAt: number | null = null): InsertParams {
  const b = row.body;
  return {
    correlationId: row.correlationId,
    subject: row.subject,
    body: Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    headers: JSON.stringify(row.headers),
    kind: row.kind,
    createdAtMs: row.createdAtMs,
    claimedAt,
  };
}

/** The state of a row with no mark and no batch: as its append left it. */
export function appendedState(r: LogKey): RowState {
  const at = r.claimed_at_ms;
  return {
    state: at === null ? 'pending-commit' : 'in-flight',
    attempts: at === null ? 0 : 1,
    firstAttemptAtMs: at,
    lastAttemptAtMs: at,
    lastError: null,
    updatedAtMs: at ?? r.created_at_ms,
    stream: null,
    streamSeq: null,
    committedAtMs: null,
    reason: null,
    marked: false,
  };
}

/** The state a mark holds. */
export function markState(m: MarkRecord): RowState {
  return {
    state: m.state as IntentState,
    attempts: m.attempts,
    firstAttemptAtMs: m.first_attempt_at_ms,
    lastAttemptAtMs: m.last_attempt_at_ms,
    lastError: m.last_error,
    updatedAtMs: m.updated_at_ms,
    stream: m.stream,
    streamSeq: m.stream_seq,
    committedAtMs: m.committed_at_ms,
    reason: m.reason,
    marked: true,
  };
}

/** Parameters of `upsertMark` for a row of `kind` at `seq` in state `s`. */
export function markParams(seq: number, kind: string, s: RowState): Record<string, unknown> {
  return {
    seq,
    kind,
    state: s.state,
    updatedAtMs: s.updatedAtMs,
    attempts: s.attempts,
    firstAttemptAtMs: s.firstAttemptAtMs,
    lastAttemptAtMs: s.lastAttemptAtMs,
    lastError: s.lastError,
    stream: s.stream,
    streamSeq: s.streamSeq,
    committedAtMs: s.committedAtMs,
    reason: s.reason,
  };
}

/** Converts a log record and its derived state into an {@link OutboxRow}; `body` is a plain Uint8Array view. */
export function decodeRow(r: LogRecord, s: RowState): OutboxRow {
  return {
    seq: r.seq,
    correlationId: r.correlation_id,
    subject: r.subject,
    body: new Uint8Array(r.body.buffer, r.body.byteOffset, r.body.byteLength),
    headers: JSON.parse(r.headers) as Record<string, string>,
    kind: r.kind as RowKind,
    state: s.state,
    createdAtMs: r.created_at_ms,
    updatedAtMs: s.updatedAtMs,
    attempts: s.attempts,
    firstAttemptAtMs: s.firstAttemptAtMs,
    lastAttemptAtMs: s.lastAttemptAtMs,
    lastError: s.lastError,
    stream: s.stream,
    streamSeq: s.streamSeq,
    committedAtMs: s.committedAtMs,
    reason: s.reason,
  };
}
