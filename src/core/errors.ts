/**
 * The bounded set of error codes net-sync raises. Callers match on `code`, never on text.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'INPUT_INVALID'
  | 'PAYLOAD_TOO_LARGE'
  | 'BATCH_TOO_LARGE'
  | 'IDEMPOTENCY_CONFLICT'
  | 'NOT_A_MEMBER'
  | 'NATS_DISCONNECTED'
  | 'NATS_TIMEOUT'
  | 'NATS_NO_RESPONDERS'
  | 'NATS_PERMISSION_DENIED'
  | 'NATS_PAYLOAD_TOO_LARGE'
  | 'NATS_NO_STREAM'
  | 'NATS_STREAM_CONFLICT'
  | 'NATS_PROTOCOL_LIMIT'
  | 'NATS_UNKNOWN'
  | 'OUTBOX_IO'
  | 'OUTBOX_SCHEMA'
  | 'MESH_PUBLISH'
  | 'MESH_IDENTITY'
  | 'ABORTED'
  | 'INTERNAL';

/** Base error of net-sync: a bounded `code`, a human message, and the original `cause`. */
export class NetSyncError extends Error {
  override readonly name = 'NetSyncError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; field?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.field = options?.field;
  }
  /** For input and config errors: the key or field at fault, e.g. `mesh.listen[0]`. */
  readonly field: string | undefined;
}

/** True when `err` is a NetSyncError with one of the given codes. */
export function hasCode(err: unknown, ...codes: ErrorCode[]): err is NetSyncError {
  return err instanceof NetSyncError && codes.includes(err.code);
}
