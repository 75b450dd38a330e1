/**
 * Pure translation of what nats.js 2.x throws from `js.publish()` into our PublishResult.
 * Verified against nats-server 2.9.10 (see test/integration/nats/jetstream-publisher.test.ts).
 */
import type { PublishResult } from '../core/ports.js';

/** A failed PublishResult. */
export type PublishFailure = Extract<PublishResult, { kind: 'failed' }>;

/** The shape of a nats.js NatsError we rely on (code string, optional JetStream API error). */
interface NatsErrorLike {
  code?: unknown;
  message?: unknown;
  api_error?: { code?: number; err_code?: number; description?: string };
}

// Server err_codes whose cause passes with time (space freed by max-age, leader elected…).
const TRANSIENT_API_ERRORS = new Set([
  10008, // JSClusterNotAvailErr: JetStream system temporarily unavailable
  10023, // JSInsufficientResourcesErr
  10028, // JSMemoryResourcesExceededErr
  10047, // JSStorageResourcesExceededErr
  10077, // JSStreamStoreFailedF: e.g. "maximum messages exceeded" with discard new
]);

/** 10054 JSStreamMessageExceedsMaximumErr: bigger than the stream's max_msg_size. */
const MESSAGE_TOO_LARGE = 10054;

const failure = (retryable: boolean, outcomeUnknown: boolean, code: string, reason: string): PublishFailure => ({
  kind: 'failed',
  retryable,
  outcomeUnknown,
  code,
  reason,
});

/**
 * Classifies an error thrown by `js.publish()`. Returns `'no-responders'` for a 503 without a
 * JetStream API error: whether that is permanent depends on whether a stream captures the
 * subject, which {@link classifyNoResponders} decides once the caller has looked.
 */
export function classifyPublishError(err: unknown): PublishFailure | 'no-responders' {
  const e = (typeof err === 'object' && err !== null ? err : {}) as NatsErrorLike;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const api = e.api_error;
  if (api !== undefined) {
    const desc = api.description ?? message;
    const reason = `JetStream refused the message: ${desc} (err_code ${api.err_code ?? '?'})`;
    if (api.err_code === MESSAGE_TOO_LARGE) return failure(false, false, 'NATS_PAYLOAD_TOO_LARGE', reason);
    if ((api.code ?? 0) >= 500 || TRANSIENT_API_ERRORS.has(api.err_code ?? 0))
      return failure(true, false, 'NATS_UNKNOWN', reason);
    return failure(false, false, 'NATS_STREAM_CONFLICT', reason);
  }
  switch (code) {
    case '503':
      return 'no-responders';
    case 'TIMEOUT':
      // The request left; the stream may have stored it and the PubAck got lost.
      return failure(true, true, 'NATS_TIMEOUT', 'no PubAck before the timeout');
    case 'PERMISSIONS_VIOLATION':
      return failure(false, false, 'NATS_PERMISSION_DENIED', `server refused: ${message}`);
    case 'MAX_PAYLOAD_EXCEEDED':
      return failure(false, false, 'NATS_PAYLOAD_TOO_LARGE', 'message exceeds the server max_payload');
    case 'BAD_SUBJECT':
    case 'BAD_HEADER':
      return failure(false, false, 'INPUT_INVALID', `nats.js refused the message: ${code}`);
    case 'CONNECTION_CLOSED':
    case 'CONNECTION_DRAINING':
    case 'DISCONNECT':
      return failure(true, true, 'NATS_DISCONNECTED', `connection lost during publish (${code})`);
    default:
      return failure(true, true, 'NATS_UNKNOWN', `${code || 'error'}: ${message}`);
  }
}

/**
 * The verdict on a 503 "no responders": with no stream on the subject it can never succeed
 * (permanent NATS_NO_STREAM); with one it is a stream between leaders or a server restarting
 * (retryable). `undefined` = the lookup itself failed: retryable.
 */
export function classifyNoResponders(subject: string, streamExists: boolean | undefined): PublishFailure {
  if (streamExists === false) return failure(false, false, 'NATS_NO_STREAM', `no stream captures subject ${subject}`);
  return failure(true, false, 'NATS_NO_RESPONDERS', `no JetStream responder for ${subject} (stream unavailable)`);
}

/**
 * nats-server's default `max_control_line`: a protocol line (`HPUB <subject> <reply> <sizes>`)
 * longer than this makes the server close the connection, which would fail every message in
 * flight and, retried, stall every row behind this one.
 */
export const MAX_CONTROL_LINE_BYTES = 4_096;

// Room on the control line for the verb, the reply inbox (~40 bytes) and the two sizes.
const CONTROL_LINE_OVERHEAD_BYTES = 128;
const SUBJECT_TOKEN = /^[^\s*>]+$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * What the server would refuse at the protocol level (closing the connection) about a message,
 * checked before it is sent: a subject too long for the control line, or not a concrete subject
 * (empty tokens, whitespace, wildcards); a header name or value that would break the header
 * block. Null when the message is fine. Such a refusal is permanent for the row: it goes dead,
 * and the rows behind it are not held up at all.
 */
export function protocolProblem(subject: string, headers: Readonly<Record<string, string>>): PublishFailure | null {
  // A UTF-16 unit is at most 3 UTF-8 bytes: short subjects skip the encoding.
  const bytes =
    subject.length * 3 + CONTROL_LINE_OVERHEAD_BYTES <= MAX_CONTROL_LINE_BYTES
      ? subject.length
      : new TextEncoder().encode(subject).length;
  if (bytes + CONTROL_LINE_OVERHEAD_BYTES > MAX_CONTROL_LINE_BYTES) {
    return failure(
      false,
      false,
      'NATS_PROTOCOL_LIMIT',
      `subject of ${bytes} bytes would pass the server's ${MAX_CONTROL_LINE_BYTES}-byte control line`,
    );
  }
  if (subject.split('.').some((t) => !SUBJECT_TOKEN.test(t))) {
    return failure(false, false, 'NATS_PROTOCOL_LIMIT', 'subject is not a concrete NATS subject');
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name) || /[\r\n]/.test(value)) {
      return failure(false, false, 'NATS_PROTOCOL_LIMIT', `header ${JSON.stringify(name.slice(0, 64))} is not valid`);
    }
  }
  return null;
}
