/**
 * Every SQL statement of the outbox log (schema version 4), prepared once. A row is written once
 * (`outbox_log`); claims and commits of many rows are one `outbox_batches` record each; a row
 * whose state no batch can say has an `outbox_marks` row. The guards that used to live in WHERE
 * clauses are checked against the derived state (outbox-states.ts) inside the same transaction.
 */
import { MAX_BATCH_SPAN } from '../core/seq-runs.js';
import type { Database, Statement } from 'better-sqlite3';

/** The single lease row's name. */
export const PUBLISHER_LEASE = 'publisher';
/** The watermark's key in `outbox_meta`: every row below it without a mark is committed. */
export const SETTLED_BELOW = 'settled_below';

const LOG_COLUMNS = 'seq, correlation_id, subject, body, headers, kind, created_at_ms, claimed_at_ms';
// What deriving a state and changing it need of a row: not its subject, body or headers.
const KEY_COLUMNS = 'seq, correlation_id, kind, created_at_ms, claimed_at_ms';
const MARK_COLUMNS = `seq, kind, state, updated_at_ms, attempts, first_attempt_at_ms, last_attempt_at_ms,
  last_error, stream, stream_seq, committed_at_ms, reason`;

/** What each statement is for. */
type StatementName =
  | 'insert'
  | 'insertMark'
  | 'upsertMark'
  | 'logById'
  | 'logAfter'
  | 'logIn'
  | 'keyById'
  | 'keyRange'
  | 'keyAfter'
  | 'keyIn'
  | 'logAny'
  | 'marksRange'
  | 'marksIn'
  | 'marksByState'
  | 'markByStateKind'
  | 'marksSettled'
  | 'oldestFrom'
  | 'oldestFromByKind'
  | 'oldestOpenMark'
  | 'oldestOpenMarkByKind'
  | 'batchesNear'
  | 'lastClaimedFrom'
  | 'insertBatch'
  | 'commitBatches'
  | 'deleteBatch'
  | 'claimBatchesBelow'
  | 'promoteMark'
  | 'replaceBody'
  | 'deleteLog'
  | 'deleteMark'
  | 'counts'
  | 'openTelemetry'
  | 'countsByKind'
  | 'addCount'
  | 'getMeta'
  | 'setMeta'
  | 'tryLease'
  | 'releaseLease'
  | 'leaseHolder';

/** The prepared statements, by purpose. */
export type OutboxStatements = Readonly<Record<StatementName, Statement>>;

/** Prepares every statement on `db` (which must already be migrated). */
export function prepareOutboxStatements(db: Database): OutboxStatements {
  const s = (sql: string): Statement => db.prepare(sql);
  return {
    // Not INSERT OR IGNORE: that would also swallow CHECK and NOT NULL failures. Only a
    // duplicate correlation ID is ignored; anything else fails the batch. @claimedAt: the append
    // claimed the row (one attempt at that time), else null.
    insert: s(`INSERT INTO outbox_log (correlation_id, subject, body, headers, kind, created_at_ms, claimed_at_ms)
      VALUES (@correlationId, @subject, @body, @headers, @kind, @createdAtMs, @claimedAt)
      ON CONFLICT (correlation_id) DO NOTHING`),
    insertMark: s(`INSERT INTO outbox_marks (seq, kind, state, updated_at_ms) VALUES (?, ?, ?, ?)`),
    // A row's whole state, from then on read from here.
    upsertMark: s(`INSERT OR REPLACE INTO outbox_marks (${MARK_COLUMNS}) VALUES (@seq, @kind, @state, @updatedAtMs,
      @attempts, @firstAttemptAtMs, @lastAttemptAtMs, @lastError, @stream, @streamSeq, @committedAtMs, @reason)`),
    logById: s(`SELECT ${LOG_COLUMNS} FROM outbox_log WHERE correlation_id = ?`),
    logAfter: s(`SELECT ${LOG_COLUMNS} FROM outbox_log WHERE seq > ? ORDER BY seq LIMIT ?`),
    logIn: s(`SELECT ${LOG_COLUMNS} FROM outbox_log WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq`),
    keyById: s(`SELECT ${KEY_COLUMNS} FROM outbox_log WHERE correlation_id = ?`),
    keyRange: s(`SELECT ${KEY_COLUMNS} FROM outbox_log WHERE seq BETWEEN ? AND ?`),
    keyAfter: s(`SELECT ${KEY_COLUMNS} FROM outbox_log WHERE seq > ? ORDER BY seq LIMIT ?`),
    keyIn: s(`SELECT ${KEY_COLUMNS} FROM outbox_log WHERE seq IN (SELECT value FROM json_each(?))`),
    logAny: s(`SELECT 1 FROM outbox_log WHERE seq BETWEEN ? AND ? LIMIT 1`),
    marksRange: s(`SELECT ${MARK_COLUMNS} FROM outbox_marks WHERE seq BETWEEN ? AND ?`),
    marksIn: s(`SELECT ${MARK_COLUMNS} FROM outbox_marks WHERE seq IN (SELECT value FROM json_each(?))`),
    marksByState: s(`SELECT seq FROM outbox_marks WHERE state = ? AND seq > ? ORDER BY seq LIMIT ?`),
    markByStateKind: s(`SELECT seq FROM outbox_marks WHERE state = ? AND kind = ? ORDER BY seq LIMIT ?`),
    marksSettled: s(`SELECT seq, kind, updated_at_ms AS at FROM outbox_marks WHERE state = ? ORDER BY seq LIMIT ?`),
    // The oldest row from a seq on (SQLite returns the bare columns of the min() row).
    oldestFrom: s(`SELECT ${KEY_COLUMNS}, min(created_at_ms) AS t FROM outbox_log WHERE seq >= ?`),
    oldestFromByKind: s(`SELECT ${KEY_COLUMNS}, min(created_at_ms) AS t FROM outbox_log WHERE seq >= ? AND kind = ?`),
    oldestOpenMark: s(`SELECT min(l.created_at_ms) AS t FROM outbox_marks m JOIN outbox_log l ON l.seq = m.seq
      WHERE m.state IN ('proposed', 'pending-commit', 'in-flight')`),
    oldestOpenMarkByKind: s(`SELECT min(l.created_at_ms) AS t FROM outbox_marks m JOIN outbox_log l ON l.seq = m.seq
      WHERE m.state IN ('proposed', 'pending-commit', 'in-flight') AND m.kind = ?`),
    // Batches that may cover a row in [@lo, @hi]: a batch spans at most MAX_BATCH_SPAN rows.
    batchesNear: s(`SELECT id, what, lo, hi, at_ms, stream, runs FROM outbox_batches
      WHERE lo BETWEEN @from AND @hi AND hi >= @lo ORDER BY id`),
    // The last row a claim may cover after @from: claim batches starting after @from − MAX_BATCH_SPAN,
    // and rows their append claimed.
    lastClaimedFrom: s(`SELECT max(
      coalesce((SELECT max(hi) FROM outbox_batches WHERE lo >= @from - ${MAX_BATCH_SPAN} AND what = 'claim'), 0),
      coalesce((SELECT max(seq) FROM outbox_log WHERE seq > @from AND claimed_at_ms IS NOT NULL), 0)) AS hi`),
    insertBatch: s(`INSERT INTO outbox_batches (what, lo, hi, at_ms, stream, runs)
      VALUES (@what, @lo, @hi, @at, @stream, @runs)`),
    // Commit batches in row order, paged by (lo, id).
    commitBatches: s(`SELECT id, lo, hi, at_ms, runs FROM outbox_batches
      WHERE what = 'commit' AND (lo > @lo OR (lo = @lo AND id > @id)) ORDER BY lo, id LIMIT @n`),
    deleteBatch: s(`DELETE FROM outbox_batches WHERE id = ?`),
    claimBatchesBelow: s(`SELECT id, lo, hi FROM outbox_batches WHERE what = 'claim' AND hi < ? ORDER BY lo LIMIT ?`),
    // Only a proposed row is promoted: a row committed, expired or already promoted elsewhere stays.
    promoteMark: s(
      `UPDATE outbox_marks SET state = @target, updated_at_ms = @at WHERE seq = @seq AND state = 'proposed'`,
    ),
    replaceBody: s(`UPDATE outbox_log SET body = @body, headers = @headers WHERE seq = @seq`),
    deleteLog: s(`DELETE FROM outbox_log WHERE seq IN (SELECT value FROM json_each(?))`),
    deleteMark: s(`DELETE FROM outbox_marks WHERE seq IN (SELECT value FROM json_each(?))`),
    counts: s(`SELECT state, sum(n) AS n FROM outbox_counts GROUP BY state`),
    countsByKind: s(`SELECT state, n FROM outbox_counts WHERE kind = ?`),
    openTelemetry: s(`SELECT coalesce(sum(n), 0) AS n FROM outbox_counts
      WHERE kind = 'telemetry' AND state IN ('proposed', 'pending-commit', 'in-flight')`),
    addCount: s(`INSERT INTO outbox_counts (kind, state, n) VALUES (?, ?, ?)
      ON CONFLICT (kind, state) DO UPDATE SET n = n + excluded.n`),
    getMeta: s(`SELECT value FROM outbox_meta WHERE key = ?`),
    setMeta: s(
      `INSERT INTO outbox_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    // The DO UPDATE's WHERE makes take-or-renew atomic: it only fires for the same owner
    // or an expired lease, and `changes` tells which happened.
    tryLease: s(`INSERT INTO lease (name, owner, expires_at_ms) VALUES ('${PUBLISHER_LEASE}', @owner, @expires)
      ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at_ms = excluded.expires_at_ms
      WHERE lease.owner = excluded.owner OR lease.expires_at_ms <= @now`),
    releaseLease: s(`DELETE FROM lease WHERE name = '${PUBLISHER_LEASE}' AND owner = ?`),
    leaseHolder: s(`SELECT owner, expires_at_ms FROM lease
      WHERE name = '${PUBLISHER_LEASE}' AND expires_at_ms > ?`),
  };
}
