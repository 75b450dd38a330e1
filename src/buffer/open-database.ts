/**
 * Opens the outbox file: owner-only permissions, WAL (cut back to a bounded size after each
 * checkpoint), the configured fsync level, a busy timeout for the second process
 * (`net-sync reconcile`) that may share the file.
 */
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { NetSyncError } from '../core/errors.js';
import { toOutboxError } from './outbox-error.js';

/** How durable a commit is: FULL survives power loss, NORMAL only a process crash (in WAL). */
export type SynchronousLevel = 'FULL' | 'NORMAL' | 'EXTRA';

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** SQLite file; created with mode 0600 when missing. `:memory:` for a throwaway db. */
  readonly path: string;
  /** `PRAGMA synchronous`. */
  readonly synchronous: SynchronousLevel;
  /** How long a write waits for another process's lock before failing, in ms. */
  readonly busyTimeoutMs: number;
}

const OWNER_ONLY = 0o600;

/**
 * Size the `-wal` file is cut back to after a checkpoint (`PRAGMA journal_size_limit`). Without
 * it the file keeps its largest size forever, and one spike (a reader holding back checkpoints
 * while intents pour in) can take a small disk whole. 16 MiB is four times what the automatic
 * checkpoint (1,000 pages of 4 KiB) lets it reach in normal running, so it costs nothing then.
 */
export const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;

function createOwnerOnly(path: string): void {
  try {
    closeSync(openSync(path, 'wx', OWNER_ONLY));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * Restricts the `-wal` and `-shm` side files to the owner. SQLite already gives them the
 * main file's mode; this covers files left by an older run with a laxer umask.
 */
export function restrictSideFiles(path: string): void {
  if (path === ':memory:') return;
  for (const suffix of ['-wal', '-shm']) {
    const side = path + suffix;
    try {
      if (existsSync(side)) chmodSync(side, OWNER_ONLY);
    } catch (err) {
      // Another process may own or just have removed it; the main file's mode still holds.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function applyPragmas(db: Database.Database, opts: OpenDatabaseOptions): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs))}`);
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (opts.path !== ':memory:' && mode !== 'wal') {
    throw new NetSyncError('OUTBOX_IO', `outbox ${opts.path}: journal_mode is ${String(mode)}, WAL required`);
  }
  db.pragma(`synchronous = ${opts.synchronous}`);
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
}

/**
 * Opens (creating when missing) the SQLite file with WAL, `synchronous` and `busy_timeout`
 * set. Does not migrate. Throws OUTBOX_IO with the library error as `cause`.
 */
export function openDatabase(opts: OpenDatabaseOptions): Database.Database {
  let db: Database.Database | undefined;
  try {
    if (opts.path !== ':memory:') createOwnerOnly(opts.path);
    db = new Database(opts.path, { timeout: opts.busyTimeoutMs });
    applyPragmas(db, opts);
    return db;
  } catch (err) {
    db?.close();
    throw toOutboxError('open', err);
  }
}

/**
 * Runs `fn` with `synchronous = NORMAL` (no fsync at commit in WAL) when `durable` is false and
 * the connection's `configured` level is stricter, then restores it. For writes whose loss on
 * power failure (never on a process crash) only costs a redo.
 */
export function withDurability<T>(
  db: Database.Database,
  configured: SynchronousLevel,
  durable: boolean,
  fn: () => T,
): T {
  const relaxed = !durable && configured !== 'NORMAL';
  if (relaxed) db.pragma('synchronous = NORMAL');
  try {
    return fn();
  } finally {
    if (relaxed) db.pragma(`synchronous = ${configured}`);
  }
}
