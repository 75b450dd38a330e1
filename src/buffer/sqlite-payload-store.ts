/**
 * Large payloads beside the outbox file (docs/payloads.md#durability-and-exactly-once): each
 * payload's bytes in its own file under `<outbox>.payloads/`, written and fsync'd (file, then its
 * directory) before its index row in `payload_files` (migration 6) is committed on the outbox's
 * own connection; so a payload stored by reference is on disk before its command's row, and so
 * before the 202. A file beats a BLOB here: SQLite writes a 32 MiB blob as 8,192 WAL frames and
 * copies it again at the checkpoint, about 5× the time of one write and fsync.
 *
 * Payloads stored by an earlier version stay in the `payloads` table (migration 5) and are read
 * from there; an in-memory outbox (tests) keeps new ones there too.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Database, Statement } from 'better-sqlite3';
import type { PayloadStore } from '../core/payload-ref.js';
import { toOutboxError } from './outbox-error.js';

/** Bytes of payloads just stored, kept in memory for their upload (read back from disk otherwise). */
const RECENT_BUDGET_BYTES = 128 * 1_048_576;

/** A correlation ID as a file name: ULIDs and keyed IDs are Crockford base32. */
const SAFE_NAME = /^[0-9A-Za-z]{1,64}$/;

/** The directory holding an outbox file's payloads. */
export function payloadDirOf(outboxPath: string): string {
  return `${outboxPath}.payloads`;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * {@link PayloadStore} over the outbox's database handle and a directory beside its file. The
 * payloads put since their upload (up to 128 MiB, oldest dropped first) are also kept in memory,
 * so the upload does not read them back; the disk stays the truth after a restart.
 */
export class SqlitePayloadStore implements PayloadStore {
  private readonly recent = new Map<string, Uint8Array>();
  private recentBytes = 0;
  /** Null for an in-memory outbox: the bytes go to the `payloads` table. */
  private readonly dir: string | null;
  private readonly insertBlob: Statement;
  private readonly insertFile: Statement;
  private readonly has: Statement<[string, string], { one: number }>;
  private readonly selectBlob: Statement<[string], { bytes: Buffer }>;
  private readonly selectFile: Statement<[string], { size: number }>;
  private readonly pendingStmt: Statement<[number], { correlation_id: string; digest: string; size: number }>;
  private readonly uploadedStmt: Statement;
  private readonly orphanBlobs: Statement;
  private readonly orphanFiles: Statement<[number, number], { correlation_id: string }>;
  private readonly deleteFileRow: Statement;
  private readonly pruneMarks: Statement;
  private readonly fileRows: Statement<[], { correlation_id: string }>;

  /** `db` is the outbox's handle: its `synchronous` level makes the index row as durable as an append. */
  constructor(db: Database) {
    this.dir = db.memory ? null : payloadDirOf(db.name);
    if (this.dir !== null) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      fsyncPath(join(this.dir, '..'));
    }
    this.insertBlob = db.prepare(
      'INSERT OR IGNORE INTO payloads (correlation_id, bytes, digest, stored_at_ms) VALUES (?, ?, ?, ?)',
    );
    this.insertFile = db.prepare(
      'INSERT OR IGNORE INTO payload_files (correlation_id, digest, size, stored_at_ms) VALUES (?, ?, ?, ?)',
    );
    this.has = db.prepare(
      `SELECT 1 AS one FROM payloads WHERE correlation_id = ?
       UNION ALL SELECT 1 FROM payload_files WHERE correlation_id = ? LIMIT 1`,
    );
    this.selectBlob = db.prepare('SELECT bytes FROM payloads WHERE correlation_id = ?');
    this.selectFile = db.prepare('SELECT size FROM payload_files WHERE correlation_id = ?');
    // Upload marks live in payload_uploads (migration 6): an UPDATE of a payloads row would rewrite its bytes.
    this.pendingStmt = db.prepare(
      `SELECT correlation_id, digest, size FROM (
         SELECT correlation_id, digest, length(bytes) AS size, stored_at_ms FROM payloads
         UNION ALL SELECT correlation_id, digest, size, stored_at_ms FROM payload_files) p
       WHERE NOT EXISTS (SELECT 1 FROM payload_uploads u WHERE u.correlation_id = p.correlation_id)
       ORDER BY stored_at_ms LIMIT ?`,
    );
    this.uploadedStmt = db.prepare(
      'INSERT OR IGNORE INTO payload_uploads (correlation_id, uploaded_at_ms) VALUES (?, ?)',
    );
    // A payload whose row is gone: its intent was pruned, or never stored (a crash between the two writes).
    const orphan =
      'stored_at_ms < ? AND NOT EXISTS (SELECT 1 FROM outbox_log o WHERE o.correlation_id = p.correlation_id)';
    this.orphanBlobs = db.prepare(
      `DELETE FROM payloads WHERE correlation_id IN (SELECT p.correlation_id FROM payloads p WHERE ${orphan} LIMIT ?)`,
    );
    this.orphanFiles = db.prepare(`SELECT p.correlation_id FROM payload_files p WHERE ${orphan} LIMIT ?`);
    this.deleteFileRow = db.prepare('DELETE FROM payload_files WHERE correlation_id = ?');
    this.pruneMarks = db.prepare(
      `DELETE FROM payload_uploads
         WHERE NOT EXISTS (SELECT 1 FROM payloads p WHERE p.correlation_id = payload_uploads.correlation_id)
         AND NOT EXISTS (SELECT 1 FROM payload_files f WHERE f.correlation_id = payload_uploads.correlation_id)`,
    );
    this.fileRows = db.prepare('SELECT correlation_id FROM payload_files');
  }

  async put(correlationId: string, bytes: Uint8Array, digest: string, atMs: number): Promise<void> {
    const dir = this.dir;
    if (dir === null) {
      const stored = this.io('payload write', () => this.insertBlob.run(correlationId, bytes, digest, atMs).changes);
      if (stored > 0) this.keep(correlationId, bytes);
      return;
    }
    if (!SAFE_NAME.test(correlationId))
      throw toOutboxError('payload write', new Error(`correlation ID ${correlationId} is not a safe file name`));
    // A second put of one ID is ignored: its file is never replaced.
    if (this.io('payload read', () => this.has.get(correlationId, correlationId)) !== undefined) return;
    this.io('payload write', () => {
      const final = join(dir, correlationId);
      const tmp = `${final}.tmp`;
      const fd = openSync(tmp, 'w', 0o600);
      try {
        for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, final);
      fsyncPath(dir); // the rename is durable before the index row says the file is there
      this.insertFile.run(correlationId, digest, bytes.length, atMs);
    });
    this.keep(correlationId, bytes);
  }

  get(correlationId: string): Uint8Array | undefined {
    const kept = this.recent.get(correlationId);
    if (kept !== undefined) return kept;
    return this.io('payload read', () => {
      const blob = this.selectBlob.get(correlationId);
      if (blob !== undefined) return new Uint8Array(blob.bytes.buffer, blob.bytes.byteOffset, blob.bytes.length);
      if (this.dir === null || this.selectFile.get(correlationId) === undefined) return undefined;
      try {
        const b = readFileSync(join(this.dir, correlationId));
        return new Uint8Array(b.buffer, b.byteOffset, b.length);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // lost: the caller retries or reports
        throw err;
      }
    });
  }

  notUploaded(limit: number): Array<{ correlationId: string; digest: string; size: number }> {
    return this.io('payload read', () =>
      this.pendingStmt.all(limit).map((r) => ({ correlationId: r.correlation_id, digest: r.digest, size: r.size })),
    );
  }

  markUploaded(correlationId: string, atMs: number): void {
    const kept = this.recent.get(correlationId);
    if (kept !== undefined) this.forget(correlationId, kept);
    this.io('payload write', () => this.uploadedStmt.run(correlationId, atMs));
  }

  pruneOrphans(beforeMs: number, limit: number): number {
    return this.io('payload prune', () => {
      let pruned = this.orphanBlobs.run(beforeMs, limit).changes;
      for (const { correlation_id: id } of this.orphanFiles.all(beforeMs, limit)) {
        this.deleteFileRow.run(id);
        this.unlink(id);
        this.recent.has(id) && this.forget(id, this.recent.get(id)!);
        pruned++;
      }
      pruned += this.pruneStrayFiles(beforeMs);
      if (pruned > 0) this.pruneMarks.run();
      return pruned;
    });
  }

  // Files without an index row (a crash between the fsync and the row), and temporary files, older than `beforeMs`.
  private pruneStrayFiles(beforeMs: number): number {
    if (this.dir === null) return 0;
    const indexed = new Set(this.fileRows.all().map((r) => r.correlation_id));
    let pruned = 0;
    for (const name of readdirSync(this.dir)) {
      if (indexed.has(name)) continue;
      const path = join(this.dir, name);
      try {
        if (statSync(path).mtimeMs >= beforeMs) continue;
        unlinkSync(path);
        pruned++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return pruned;
  }

  private unlink(correlationId: string): void {
    if (this.dir === null) return;
    try {
      unlinkSync(join(this.dir, correlationId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private keep(correlationId: string, bytes: Uint8Array): void {
    if (bytes.length > RECENT_BUDGET_BYTES) return;
    this.recent.set(correlationId, bytes);
    this.recentBytes += bytes.length;
    for (const [id, b] of this.recent) {
      if (this.recentBytes <= RECENT_BUDGET_BYTES) break;
      this.forget(id, b);
    }
  }

  private forget(correlationId: string, bytes: Uint8Array): void {
    this.recent.delete(correlationId);
    this.recentBytes -= bytes.length;
  }

  private io<T>(op: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toOutboxError(op, err);
    }
  }
}
