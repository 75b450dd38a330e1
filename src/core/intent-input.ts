/**
 * Validation of an agent's intent submission (`POST /v1/intents`). Errors name the field.
 */
import { NetSyncError } from './errors.js';
import { canonicalPayloadBytes, keyField, utf8Length } from './json-body.js';
import { exceedsDepth, MAX_PAYLOAD_DEPTH } from './json-depth.js';
import { checkSubject } from './subject.js';

/** A valid submission. */
export interface IntentInput {
  subject: string;
  payload: unknown;
  /** Size of the payload as compact JSON, bytes. */
  payloadBytes: number;
  /** The payload's canonical JSON bytes, when the request's own were canonical (they are stored as they are). */
  payloadJson?: Uint8Array;
}

/** Limits that apply to a submission. */
export interface IntentLimits {
  prefix: string;
  /** Largest payload (compact JSON bytes); a larger one is refused with PAYLOAD_TOO_LARGE (HTTP 413). */
  maxPayloadBytes: number;
  /**
   * Most intents in one batch (`api.maxBatchItems`); more is refused with BATCH_TOO_LARGE (HTTP 413).
   * Default 1,000.
   */
  maxBatchItems?: number;
}

function invalid(field: string, message: string): NetSyncError {
  return new NetSyncError('INPUT_INVALID', `${field}: ${message}`, { field });
}

/** Checks a parsed JSON body; throws INPUT_INVALID naming the field. */
export function parseIntentInput(body: unknown, limits: IntentLimits): IntentInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('body', 'must be a JSON object {subject, payload}');
  }
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key === 'idempotencyKey')
      throw invalid(key, 'not a field of a single intent: send the Idempotency-Key header (a batch item carries it)');
    if (key !== 'subject' && key !== 'payload')
      throw invalid(keyField(key), 'unknown field (expected subject, payload)');
  }
  const subjectError = checkSubject(record['subject'], limits.prefix, 'command');
  if (subjectError !== null) throw invalid('subject', subjectError);
  if (!('payload' in record) || record['payload'] === undefined) throw invalid('payload', 'is required');
  if (exceedsDepth(record['payload'], MAX_PAYLOAD_DEPTH)) {
    throw invalid('payload', `nests deeper than ${MAX_PAYLOAD_DEPTH} levels`);
  }
  // Canonical request bytes are compact: their length is the size, with no second serialisation.
  const payloadJson = canonicalPayloadBytes(record);
  const payloadBytes = payloadJson?.length ?? utf8Length(JSON.stringify(record['payload']));
  if (payloadBytes > limits.maxPayloadBytes) {
    throw new NetSyncError(
      'PAYLOAD_TOO_LARGE',
      `payload: is ${payloadBytes} bytes, over the limit of ${limits.maxPayloadBytes}`,
      { field: 'payload' },
    );
  }
  return {
    subject: record['subject'] as string,
    payload: record['payload'],
    payloadBytes,
    ...(payloadJson === undefined ? {} : { payloadJson }),
  };
}
