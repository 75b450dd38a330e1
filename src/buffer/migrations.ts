/**
 * Outbox schema, versioned with `PRAGMA user_version`. Migrations are append-only: never
 * edit one that has shipped, add the next version instead.
 */
import type { Database } from 'better-sqlite3';
import { NetSyncError } from '../core/errors.js';

/** One schema step, from `version - 1` to `version`. */
export interface Migration {
  /** The `user_version` after this step. Versions are consecutive from 1. */
  readonly version: number;
  /** What the step does, for logs. */
  readonly name: string;
  /** SQL run inside the migration transaction. */
  readonly sql: string;
}

/** Every migration, in order. The last one's version is the schema the code expects. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'outbox and publisher lease',
    // AUTOINCREMENT: a seq is never reused after telemetry rows are dropped, so a
    // committer's `afterSeq` cursor can never skip a newer row that took an old number.
    sql: `
      CREATE TABLE outbox (
        seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
        correlation_id      TEXT    NOT NULL UNIQUE,
        subject             TEXT    NOT NULL,
        body                BLOB    NOT NULL,
        headers             TEXT    NOT NULL CHECK (json_valid(headers)),
        kind                TEXT    NOT NULL CHECK (kind IN ('command', 'telemetry')),
        state               TEXT    NOT NULL CHECK (state IN ('proposed', 'pending-commit',
                              'in-flight', 'committed', 'expired', 'rejected', 'dead')),
        created_at_ms       INTEGER NOT NULL,
        updated_at_ms       INTEGER NOT NULL,
        attempts            INTEGER NOT NULL DEFAULT 0,
        first_attempt_at_ms INTEGER,
        last_attempt_at_ms  INTEGER,
        last_error          TEXT,
        stream              TEXT,
        stream_seq          INTEGER,
        committed_at_ms     INTEGER,
        reason              TEXT
      );
      CREATE INDEX outbox_state_seq ON outbox (state, seq);
      CREATE INDEX outbox_kind_state ON outbox (kind, state);
      CREATE TABLE lease (
        name          TEXT    PRIMARY KEY,
        owner         TEXT    NOT NULL,
        expires_at_ms INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'inbox: commands the agent applied',
    // One row per command the agent acknowledged, written before the ack to NATS, so that a
    // redelivery (a lost ack) is absorbed instead of applied twice. acked_at_ms stays NULL until
    // NATS confirmed the ack; ack_subject lets it be sent again after a reconnect.
    sql: `
      CREATE TABLE inbox_applied (
        key           TEXT    PRIMARY KEY,
        stream        TEXT    NOT NULL,
        stream_seq    INTEGER NOT NULL,
        subject       TEXT    NOT NULL,
        consumer      TEXT    NOT NULL,
        applied_at_ms INTEGER NOT NULL,
        ack_subject   TEXT,
        acked_at_ms   INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX inbox_applied_at ON inbox_applied (applied_at_ms);
    `,
  },
  {
    version: 3,
    name: 'federation: events received and receipts applied',
    // federation_received: one row per event accepted from a partner, written before its
    // `accepted` receipt is queued, so a redelivery or a byte copy is absorbed and an event ID
    // seen again with another digest is refused (equivocation). federation_acks: one row per
    // outgoing event whose partner's receipt was applied (committed -> acked | rejected, once).
    sql: `
      CREATE TABLE federation_received (
        partner          TEXT    NOT NULL,
        event_id         TEXT    NOT NULL,
        digest           TEXT    NOT NULL,
        msg_id           TEXT    NOT NULL,
        stream           TEXT    NOT NULL,
        stream_seq       INTEGER NOT NULL,
        state            TEXT    NOT NULL CHECK (state IN ('accepted', 'delivered', 'dropped', 'dead')),
        received_at_ms   INTEGER NOT NULL,
        settled_at_ms    INTEGER,
        PRIMARY KEY (partner, event_id)
      ) WITHOUT ROWID;
      CREATE INDEX federation_received_digest ON federation_received (partner, digest);
      CREATE TABLE federation_acks (
        event_id       TEXT    PRIMARY KEY,
        partner        TEXT    NOT NULL,
        status         TEXT    NOT NULL CHECK (status IN ('accepted', 'rejected')),
        reason         TEXT,
        signers        TEXT    NOT NULL CHECK (json_valid(signers)),
        ack_msg_id     TEXT    NOT NULL,
        applied_at_ms  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX federation_acks_partner ON federation_acks (partner, applied_at_ms);
    `,
  },
  {
    version: 4,
    name: 'outbox as a log with positions',
    // The outbox becomes a log (issue 15, docs/commit-path.md#the-outbox-as-a-log): a row is
    // written once, when appended; what used to be a per-row UPDATE is a record. A claim or a
    // commit of many rows is one outbox_batches row (their positions, and for a commit the stream
    // sequences, packed as runs: src/core/seq-runs.ts); a row whose state a batch cannot say
    // (proposed, promoted, put back, dead, expired, rejected) has an outbox_marks row, which then
    // holds its whole state. outbox_counts keeps the counts by kind and state; outbox_meta's
    // settled_below is the watermark below which every row without a mark is committed.
    // Rows migrate as they were: every row but a fresh pending-commit one gets a mark.
    sql: `
      CREATE TABLE outbox_log (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        correlation_id TEXT    NOT NULL UNIQUE,
        subject        TEXT    NOT NULL,
        body           BLOB    NOT NULL,
        headers        TEXT    NOT NULL,
        kind           TEXT    NOT NULL CHECK (kind IN ('command', 'telemetry')),
        created_at_ms  INTEGER NOT NULL,
        claimed_at_ms  INTEGER
      );
      CREATE TABLE outbox_marks (
        seq                 INTEGER PRIMARY KEY,
        kind                TEXT    NOT NULL,
        state               TEXT    NOT NULL CHECK (state IN ('proposed', 'pending-commit',
                              'in-flight', 'committed', 'expired', 'rejected', 'dead')),
        updated_at_ms       INTEGER NOT NULL,
        attempts            INTEGER NOT NULL DEFAULT 0,
        first_attempt_at_ms INTEGER,
        last_attempt_at_ms  INTEGER,
        last_error          TEXT,
        stream              TEXT,
        stream_seq          INTEGER,
        committed_at_ms     INTEGER,
        reason              TEXT
      );
      CREATE INDEX outbox_marks_state ON outbox_marks (state, seq);
      CREATE TABLE outbox_batches (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        what   TEXT    NOT NULL CHECK (what IN ('claim', 'commit')),
        lo     INTEGER NOT NULL,
        hi     INTEGER NOT NULL,
        at_ms  INTEGER NOT NULL,
        stream TEXT,
        runs   BLOB    NOT NULL
      );
      CREATE INDEX outbox_batches_span ON outbox_batches (lo, hi);
      CREATE TABLE outbox_counts (
        kind  TEXT    NOT NULL,
        state TEXT    NOT NULL,
        n     INTEGER NOT NULL,
        PRIMARY KEY (kind, state)
      ) WITHOUT ROWID;
      CREATE TABLE outbox_meta (
        key   TEXT    PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO outbox_log (seq, correlation_id, subject, body, headers, kind, created_at_ms, claimed_at_ms)
        SELECT seq, correlation_id, subject, body, headers, kind, created_at_ms, NULL FROM outbox;
      INSERT INTO outbox_marks (seq, kind, state, updated_at_ms, attempts, first_attempt_at_ms,
          last_attempt_at_ms, last_error, stream, stream_seq, committed_at_ms, reason)
        SELECT seq, kind, state, updated_at_ms, attempts, first_attempt_at_ms, last_attempt_at_ms,
          last_error, stream, stream_seq, committed_at_ms, reason FROM outbox
        WHERE NOT (state = 'pending-commit' AND attempts = 0 AND last_error IS NULL
          AND updated_at_ms = created_at_ms);
      INSERT INTO outbox_counts (kind, state, n) SELECT kind, state, count(*) FROM outbox GROUP BY kind, state;
      INSERT INTO outbox_meta (key, value) VALUES ('settled_below', 0);
      -- A seq is never reused: the log goes on from the highest the old table ever gave.
      DELETE FROM sqlite_sequence WHERE name = 'outbox_log';
      INSERT INTO sqlite_sequence (name, seq)
        SELECT 'outbox_log', max(s) FROM (SELECT seq AS s FROM sqlite_sequence WHERE name = 'outbox'
          UNION ALL SELECT max(seq) FROM outbox_log) HAVING max(s) IS NOT NULL;
      DELETE FROM sqlite_sequence WHERE name = 'outbox';
      DROP TABLE outbox;
    `,
  },
  {
    version: 5,
    name: 'payloads stored by reference',
    // The bytes of a payload too large to carry inline (docs/payloads.md), written durably before
    // its command's row, kept until that row is pruned: the committer uploads them to the Object
    // Store before it publishes the command; with consensus a proposer uploads them at once, since
    // another node may commit (uploaded_at_ms set once the object is there).
    sql: `
      CREATE TABLE payloads (
        correlation_id  TEXT    PRIMARY KEY,
        bytes           BLOB    NOT NULL,
        digest          TEXT    NOT NULL,
        stored_at_ms    INTEGER NOT NULL,
        uploaded_at_ms  INTEGER
      );
      CREATE INDEX payloads_stored_at ON payloads (stored_at_ms);
      CREATE INDEX payloads_not_uploaded ON payloads (stored_at_ms) WHERE uploaded_at_ms IS NULL;
    `,
  },
  {
    version: 6,
    name: 'payload files beside the outbox; upload marks apart',
    // New payloads' bytes go to files under <outbox>.payloads/ (fsync'd before their row here):
    // SQLite writes a 32 MiB blob as 8,192 WAL frames and again at the checkpoint. Upload marks
    // get their own table, since SQLite rewrites a whole row on UPDATE, overflow pages included.
    // The payloads table and its uploaded_at_ms stay for payloads stored before (read, then pruned).
    sql: `
      CREATE TABLE payload_files (
        correlation_id  TEXT    PRIMARY KEY,
        digest          TEXT    NOT NULL,
        size            INTEGER NOT NULL,
        stored_at_ms    INTEGER NOT NULL
      );
      CREATE INDEX payload_files_stored_at ON payload_files (stored_at_ms);
      CREATE TABLE payload_uploads (
        correlation_id  TEXT    PRIMARY KEY,
        uploaded_at_ms  INTEGER NOT NULL
      );
      INSERT INTO payload_uploads (correlation_id, uploaded_at_ms)
        SELECT correlation_id, uploaded_at_ms FROM payloads WHERE uploaded_at_ms IS NOT NULL;
    `,
  },
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

function userVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function refuseNewer(found: number, path: string): never {
  throw new NetSyncError(
    'OUTBOX_SCHEMA',
    `outbox ${path} has schema version ${found}, newer than this net-sync knows (${SCHEMA_VERSION}); upgrade net-sync`,
  );
}

/**
 * Brings `db` to {@link SCHEMA_VERSION}, applying the missing migrations in one IMMEDIATE
 * transaction (so a second process opening the same file waits instead of racing).
 * Throws OUTBOX_SCHEMA when the file is newer than the code.
 *
 * @returns the versions before and after.
 */
export function migrate(db: Database): { from: number; to: number } {
  const seen = userVersion(db);
  if (seen > SCHEMA_VERSION) refuseNewer(seen, db.name);
  if (seen === SCHEMA_VERSION) return { from: seen, to: seen };
  const apply = db.transaction(() => {
    // Re-read under the write lock: another process may have migrated meanwhile.
    const from = userVersion(db);
    if (from > SCHEMA_VERSION) refuseNewer(from, db.name);
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
    return { from, to: SCHEMA_VERSION };
  });
  return apply.immediate();
}
