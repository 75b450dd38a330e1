import { NetSyncError } from '../core/errors.js';

/**
 * Translates anything thrown by better-sqlite3 or the file system into an `OUTBOX_IO`
 * NetSyncError that keeps the original as `cause`. NetSyncErrors pass through unchanged,
 * so a schema refusal stays `OUTBOX_SCHEMA`.
 *
 * @param op - what the outbox was doing, e.g. `append` or `open`; goes into the message.
 */
export function toOutboxError(op: string, err: unknown): NetSyncError {
  if (err instanceof NetSyncError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new NetSyncError('OUTBOX_IO', `outbox ${op} failed: ${detail}`, { cause: err });
}

/**
 * SQLite's verdict on a file that is not a database or is damaged, as a config error naming it
 * (exit 2); undefined for any other error.
 */
export function corruptFileError(path: string, err: unknown): NetSyncError | undefined {
  const code = (err as { code?: unknown; cause?: { code?: unknown } }).cause?.code ?? (err as { code?: unknown }).code;
  if (code !== 'SQLITE_CORRUPT' && code !== 'SQLITE_NOTADB') return undefined;
  return new NetSyncError('CONFIG_INVALID', `buffer.path: ${path} is not a readable SQLite outbox (${String(code)})`, {
    field: 'buffer.path',
    cause: err,
  });
}
