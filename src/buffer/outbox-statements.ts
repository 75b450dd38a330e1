/**
 * Every SQL statement of the outbox, prepared once. State guards live in the WHERE clauses
 * so that two processes on the same file can never move a row backwards.
 */
import type { Database, Statement } from 'better-sqlite3';

/** States that still need work: neither committed nor terminal. */
export const OPEN_STATES_SQL = `('proposed', 'pending-commit', 'in-flight')`;
/** The single lease row's name. */
export const PUBLISHER_LEASE = 'publisher';

const IN_FLIGHT_SET = `state = 'in-flight', attempts = attempts + 1,
      first_attempt_at_ms = COALESCE(first_attempt_at_ms, @at), last_attempt_at_ms = @at, updated_at_ms = @at`;

/** What each statement is for. */
type StatementName =
  | 'insert'
  | 'insertClaimed'
  | 'get'
  | 'byState'
  | 'markInFlight'
  | 'claim'
  | 'claimOne'
  | 'markCommitted'
  | 'markRetry'
  | 'markTerminal'
  | 'promote'
  | 'settledPage'
  | 'deleteSeqs'
  | 'countsAll'
  | 'countsByKind'
  | 'oldestOpen'
  | 'oldestOpenByKind'
  | 'openTelemetry'
  | 'dropOldestTelemetry'
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
    // duplicate correlation ID is ignored; anything else fails the batch.
    insert: s(`INSERT INTO outbox
      (correlation_id, subject, body, headers, kind, state, created_at_ms, updated_at_ms)
      VALUES (@correlationId, @subject, @body, @headers, @kind, @state, @createdAtMs, @createdAtMs)
      ON CONFLICT (correlation_id) DO NOTHING`),
    // A row claimed by its own append transaction: stored as a claim would leave it.
    insertClaimed: s(`INSERT INTO outbox
      (correlation_id, subject, body, headers, kind, state, created_at_ms, updated_at_ms,
       attempts, first_attempt_at_ms, last_attempt_at_ms)
      VALUES (@correlationId, @subject, @body, @headers, @kind, 'in-flight', @createdAtMs, @at, 1, @at, @at)
      ON CONFLICT (correlation_id) DO NOTHING`),
    get: s(`SELECT * FROM outbox WHERE correlation_id = ?`),
    byState: s(`SELECT * FROM outbox WHERE state = ? AND seq > ? ORDER BY seq LIMIT ?`),
    // Batch statements take their rows as one JSON array (json_each): one statement per batch
    // instead of one per row. `+state` keeps the planner on the correlation_id index; on the
    // (state, seq) index it would walk every row in that state, per batch.
    markInFlight: s(`UPDATE outbox SET ${IN_FLIGHT_SET}
      WHERE correlation_id IN (SELECT value FROM json_each(@ids)) AND +state IN ('pending-commit', 'in-flight')`),
    claim: s(`UPDATE outbox SET ${IN_FLIGHT_SET}
      WHERE correlation_id IN (SELECT value FROM json_each(@ids)) AND +state = 'pending-commit'`),
    claimOne: s(`UPDATE outbox SET ${IN_FLIGHT_SET} WHERE correlation_id = @id AND state = 'pending-commit'`),
    // @rows: [[correlationId, stream, seq], ...]
    markCommitted: s(`UPDATE outbox SET state = 'committed', stream = j.value ->> 1, stream_seq = j.value ->> 2,
      committed_at_ms = @at, updated_at_ms = @at
      FROM json_each(@rows) AS j WHERE outbox.correlation_id = j.value ->> 0 AND +outbox.state <> 'committed'`),
    markRetry: s(`UPDATE outbox SET state = 'pending-commit', last_error = @error, updated_at_ms = @at
      WHERE correlation_id = @id AND state IN ('in-flight', 'pending-commit')`),
    // Only a proposed row is promoted: a row committed, expired or already promoted elsewhere stays.
    promote: s(`UPDATE outbox SET state = @target, body = @body, headers = @headers, updated_at_ms = @at
      WHERE correlation_id = @id AND state = 'proposed'`),
    markTerminal: s(`UPDATE outbox SET state = @state, reason = @reason, updated_at_ms = @at
      WHERE correlation_id = @id AND state <> 'committed'`),
    // Oldest rows of one settled state, on the (state, seq) index; the caller keeps the old prefix.
    settledPage: s(`SELECT seq, updated_at_ms FROM outbox WHERE state = ? ORDER BY seq LIMIT ?`),
    deleteSeqs: s(`DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))`),
    countsAll: s(`SELECT state, count(*) AS n FROM outbox GROUP BY state`),
    countsByKind: s(`SELECT state, count(*) AS n FROM outbox WHERE kind = ? GROUP BY state`),
    oldestOpen: s(`SELECT min(created_at_ms) AS t FROM outbox WHERE state IN ${OPEN_STATES_SQL}`),
    oldestOpenByKind: s(`SELECT min(created_at_ms) AS t FROM outbox WHERE kind = ? AND state IN ${OPEN_STATES_SQL}`),
    openTelemetry: s(`SELECT count(*) AS n FROM outbox
      WHERE kind = 'telemetry' AND state IN ${OPEN_STATES_SQL}`),
    // Only rows not yet sent: an `in-flight` row may already be in the stream, so dropping it
    // would count as lost what was delivered (and the committer still holds it).
    dropOldestTelemetry: s(`DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox
      WHERE kind = 'telemetry' AND state IN ('proposed', 'pending-commit') ORDER BY seq LIMIT ?) RETURNING seq`),
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
