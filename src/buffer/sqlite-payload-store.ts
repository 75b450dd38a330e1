/**
 * Large payloads in the outbox file (table `payloads`, migration 5), written on the outbox's own
 * connection: a payload stored by reference is on disk before its command's row, and so before
 * the 202 (docs/payloads.md).
 */
import type { Database, Statement } from 'better-sqlite3';
import type { PayloadStore } from '../core/payload-ref.js';
import { toOutboxError } from './outbox-error.js';

/** {@link PayloadStore} over the outbox's database handle. */
export class SqlitePayloadStore implements PayloadStore {
  private readonly insert: Statement;
  private readonly select: Statement<[string], { bytes: Buffer }>;
  private readonly pruneStmt: Statement;
  private readonly pendingStmt: Statement<[number], { correlation_id: string; digest: string; size: number }>;
  private readonly uploadedStmt: Statement;

  /** `db` is the outbox's handle: its `synchronous` level makes a put as durable as an append. */
  constructor(db: Database) {
    this.insert = db.prepare(
      'INSERT OR IGNORE INTO payloads (correlation_id, bytes, digest, stored_at_ms) VALUES (?, ?, ?, ?)',
    );
    this.select = db.prepare('SELECT bytes FROM payloads WHERE correlation_id = ?');
    this.pendingStmt = db.prepare(
      `SELECT correlation_id, digest, length(bytes) AS size FROM payloads
       WHERE uploaded_at_ms IS NULL ORDER BY stored_at_ms LIMIT ?`,
    );
    this.uploadedStmt = db.prepare(
      'UPDATE payloads SET uploaded_at_ms = ? WHERE correlation_id = ? AND uploaded_at_ms IS NULL',
    );
    // A payload whose row is gone: its intent was pruned, or never stored (a crash between the two writes).
    this.pruneStmt = db.prepare(
      `DELETE FROM payloads WHERE correlation_id IN (
         SELECT p.correlation_id FROM payloads p
         WHERE p.stored_at_ms < ? AND NOT EXISTS (SELECT 1 FROM outbox_log o WHERE o.correlation_id = p.correlation_id)
         LIMIT ?)`,
    );
  }

  async put(correlationId: string, bytes: Uint8Array, digest: string, atMs: number): Promise<void> {
    this.io('payload write', () => this.insert.run(correlationId, bytes, digest, atMs));
  }

  get(correlationId: string): Uint8Array | undefined {
    const row = this.io('payload read', () => this.select.get(correlationId));
    return row === undefined ? undefined : new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.length);
  }

  notUploaded(limit: number): Array<{ correlationId: string; digest: string; size: number }> {
    return this.io('payload read', () =>
      this.pendingStmt.all(limit).map((r) => ({ correlationId: r.correlation_id, digest: r.digest, size: r.size })),
    );
  }

  markUploaded(correlationId: string, atMs: number): void {
    this.io('payload write', () => this.uploadedStmt.run(atMs, correlationId));
  }

  pruneOrphans(beforeMs: number, limit: number): number {
    return this.io('payload prune', () => this.pruneStmt.run(beforeMs, limit).changes);
  }

  private io<T>(op: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toOutboxError(op, err);
    }
  }
}
