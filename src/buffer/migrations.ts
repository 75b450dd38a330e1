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
