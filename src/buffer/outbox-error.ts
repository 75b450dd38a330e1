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
