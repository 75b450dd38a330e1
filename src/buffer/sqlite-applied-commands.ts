/**
 * The inbox's edge dedupe on SQLite: commands the agent applied, in the outbox file (table
 * `inbox_applied`, migration 2), written on the outbox's own connection.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { AppliedCommand, AppliedCommands } from '../core/inbox.js';
import { type SynchronousLevel, withDurability } from './open-database.js';
import { toOutboxError } from './outbox-error.js';

interface Row {
  key: string;
  stream: string;
  stream_seq: number;
  subject: string;
  consumer: string;
  applied_at_ms: number;
  ack_subject: string | null;
}

/** {@link AppliedCommands} over the outbox's database handle. */
export class SqliteAppliedCommands implements AppliedCommands {
  private readonly hasStmt: Statement<[string], { one: number }>;
  private readonly insert: Statement;
  private readonly acked: Statement;
  private readonly unackedStmt: Statement<[number], Row>;
  private readonly pruneStmt: Statement;
  private readonly writeAll: (entries: AppliedCommand[]) => void;
  private queue: Array<{ e: AppliedCommand; resolve: () => void; reject: (err: unknown) => void }> = [];

  /**
   * `synchronous` is the outbox's level: a record is that durable (it must be on disk before the
   * ack); the acked mark is not fsync'd, since losing it only means acking once more.
   */
  constructor(
    private readonly db: Database,
    private readonly synchronous: SynchronousLevel = 'FULL',
  ) {
    this.hasStmt = db.prepare('SELECT 1 AS one FROM inbox_applied WHERE key = ?');
    this.insert = db.prepare(
      `INSERT OR IGNORE INTO inbox_applied (key, stream, stream_seq, subject, consumer, applied_at_ms, ack_subject)
       VALUES (@key, @stream, @streamSeq, @subject, @consumer, @appliedAtMs, @ackSubject)`,
    );
    this.writeAll = db.transaction((entries: AppliedCommand[]) => {
      for (const e of entries) this.insert.run({ ...e, ackSubject: e.ackSubject ?? null });
    });
    this.acked = db.prepare('UPDATE inbox_applied SET acked_at_ms = ?, ack_subject = NULL WHERE key = ?');
    this.unackedStmt = db.prepare(
      'SELECT * FROM inbox_applied WHERE acked_at_ms IS NULL ORDER BY applied_at_ms LIMIT ?',
    );
    this.pruneStmt = db.prepare(
      'DELETE FROM inbox_applied WHERE key IN (SELECT key FROM inbox_applied WHERE applied_at_ms < ? LIMIT ?)',
    );
  }

  has(key: string): boolean {
    return this.io('read', () => this.hasStmt.get(key) !== undefined);
  }

  /**
   * Records of deliveries answered in the same turn of the event loop share one transaction (one
   * fsync), as the outbox's group commit does for appends; each resolves once it is on disk.
   */
  record(e: AppliedCommand): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ e, resolve, reject });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    try {
      this.io('write', () => this.writeAll(batch.map((b) => b.e)));
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    for (const b of batch) b.resolve();
  }

  markAcked(key: string, atMs: number): void {
    this.io('write', () => withDurability(this.db, this.synchronous, false, () => this.acked.run(atMs, key)));
  }

  unacked(limit: number): AppliedCommand[] {
    return this.io('read', () =>
      this.unackedStmt.all(limit).map((r) => ({
        key: r.key,
        stream: r.stream,
        streamSeq: r.stream_seq,
        subject: r.subject,
        consumer: r.consumer,
        appliedAtMs: r.applied_at_ms,
        ...(r.ack_subject === null ? {} : { ackSubject: r.ack_subject }),
      })),
    );
  }

  prune(beforeMs: number, limit: number): number {
    return this.io('prune', () => this.pruneStmt.run(beforeMs, limit).changes);
  }

  private io<T>(op: Parameters<typeof toOutboxError>[0], fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toOutboxError(op, err);
    }
  }
}
