/**
 * The batch form of `POST /v1/intents` (docs/contracts.md#batches): a JSON array of intents, each
 * with its own optional `idempotencyKey`, each answered on its own and in request order. Every item
 * is validated; the valid ones are accepted whatever the others are, and the answer's `errors`
 * flag (and its status, 202 or 207) says whether any was refused.
 */
import { payloadDigest } from './digest.js';
import { NetSyncError, type ErrorCode } from './errors.js';
import { keyField } from './json-body.js';
import { assertSameIntent, checkIdempotencyKey } from './idempotency.js';
import { parseIntentInput, type IntentInput, type IntentLimits } from './intent-input.js';
import type { IntentState } from './intent.js';

/** Intents per batch unless configured (`api.maxBatchItems`): one group-commit transaction's worth. */
export const DEFAULT_MAX_BATCH_ITEMS = 1_000;

/** Why one item of a batch was refused: its code and the field, named with the item's index (`[3].subject`). */
export interface BatchItemError {
  code: ErrorCode;
  field: string;
  message: string;
}

/** The answer for one item, at its index in the request. */
export type BatchItemResult =
  | { index: number; correlationId: string; state: IntentState }
  | { index: number; error: BatchItemError };

/** The answer to a batch. `errors` is true when at least one item was refused (HTTP 207, else 202). */
export interface BatchAnswer {
  errors: boolean;
  /** Items accepted: stored now, or already held under their idempotency key. */
  accepted: number;
  /** Items refused, each with its error. */
  refused: number;
  items: BatchItemResult[];
}

/** One item after validation. */
export type BatchItem =
  /** A valid item to store (or to find under its key). */
  | { index: number; input: IntentInput; idempotencyKey: string | undefined }
  /** The same key, subject and payload as the earlier item `sameAs`: it gets that item's result. */
  | { index: number; sameAs: number }
  | { index: number; error: BatchItemError };

const ITEM_FIELDS = new Set(['subject', 'payload', 'idempotencyKey']);

/** `[i]` or `[i].field`, the field of an item's error. */
function itemField(index: number, field: string | undefined): string {
  if (field === undefined || field === 'body') return `[${index}]`;
  if (field === 'idempotency-key') return `[${index}].idempotencyKey`;
  return field.startsWith('[') ? `[${index}]${field}` : `[${index}].${field}`;
}

/**
 * An error thrown for one item (validation, IDEMPOTENCY_CONFLICT) as that item's result, its field
 * prefixed with the item's index. Anything else is not the item's fault: it is thrown again.
 */
export function itemError(index: number, err: unknown): BatchItemError {
  if (
    !(err instanceof NetSyncError) ||
    !['INPUT_INVALID', 'PAYLOAD_TOO_LARGE', 'IDEMPOTENCY_CONFLICT'].includes(err.code)
  )
    throw err;
  const field = itemField(index, err.field);
  const prefix = `${err.field ?? 'body'}: `;
  const text = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return { code: err.code, field, message: `${field}: ${text}` };
}

function refuse(index: number, field: string, message: string): BatchItem {
  const f = itemField(index, field);
  return { index, error: { code: 'INPUT_INVALID', field: f, message: `${f}: ${message}` } };
}

function parseItem(index: number, raw: unknown, limits: IntentLimits): BatchItem {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return refuse(index, 'body', 'must be a JSON object {subject, payload, idempotencyKey?}');
  const record = raw as Record<string, unknown>;
  let keyed = false;
  for (const key of Object.keys(record)) {
    if (!ITEM_FIELDS.has(key))
      return refuse(index, keyField(key), 'unknown field (expected subject, payload, idempotencyKey)');
    if (key === 'idempotencyKey') keyed = true;
  }
  try {
    const idempotencyKey = keyed ? checkIdempotencyKey(record['idempotencyKey']) : undefined;
    const input = parseIntentInput(keyed ? { subject: record['subject'], payload: record['payload'] } : record, limits);
    return { index, input, idempotencyKey };
  } catch (err) {
    return { index, error: itemError(index, err) };
  }
}

/**
 * Validates a batch. Throws for the batch as a whole: INPUT_INVALID naming `body` when it is empty,
 * BATCH_TOO_LARGE naming `body` when it holds more than `limits.maxBatchItems` (`api.maxBatchItems`). Each item
 * is checked as a single intent is, plus `idempotencyKey`; an item repeating an earlier item's key
 * with the same subject and payload is marked `sameAs` it, with another subject or payload it is
 * refused with IDEMPOTENCY_CONFLICT naming `[i].idempotencyKey`.
 */
export function parseIntentBatch(body: readonly unknown[], limits: IntentLimits): BatchItem[] {
  const maxItems = limits.maxBatchItems ?? DEFAULT_MAX_BATCH_ITEMS;
  if (body.length === 0)
    throw new NetSyncError('INPUT_INVALID', 'body: is an empty array: send at least one intent', { field: 'body' });
  if (body.length > maxItems)
    throw new NetSyncError(
      'BATCH_TOO_LARGE',
      `body: holds ${body.length} intents, over the limit of ${maxItems} (api.maxBatchItems); split the batch`,
      { field: 'body' },
    );
  const items = body.map((raw, index) => parseItem(index, raw, limits));
  const firstByKey = new Map<string, Extract<BatchItem, { input: IntentInput }>>();
  for (const item of items) {
    if (!('input' in item) || item.idempotencyKey === undefined) continue;
    const first = firstByKey.get(item.idempotencyKey);
    if (first === undefined) {
      firstByKey.set(item.idempotencyKey, item);
      continue;
    }
    const same =
      first.input.subject === item.input.subject &&
      payloadDigest(first.input.payload) === payloadDigest(item.input.payload);
    const i = item.index;
    items[i] = same
      ? { index: i, sameAs: first.index }
      : {
          index: i,
          error: {
            code: 'IDEMPOTENCY_CONFLICT',
            field: `[${i}].idempotencyKey`,
            message:
              `[${i}].idempotencyKey: item [${first.index}] of this batch ` +
              'has the same key with another subject or payload',
          },
        };
  }
  return items;
}

/**
 * Puts the results in request order: `results` holds one per item that is not `sameAs`; a `sameAs`
 * item gets its first item's result under its own index. Counts accepted and refused items.
 */
/** The result of a batch item whose key names a stored intent: that intent, or a conflict. */
export function replayedItem(
  index: number,
  stored: { correlationId: string; body: Uint8Array; state: IntentState },
  input: IntentInput,
): BatchItemResult {
  try {
    assertSameIntent(stored.body, input.subject, input.payload);
  } catch (err) {
    return { index, error: itemError(index, err) };
  }
  return { index, correlationId: stored.correlationId, state: stored.state };
}

export function batchAnswer(items: readonly BatchItem[], results: ReadonlyMap<number, BatchItemResult>): BatchAnswer {
  const out: BatchItemResult[] = new Array(items.length);
  let refused = 0;
  for (const item of items) {
    const r = 'sameAs' in item ? results.get(item.sameAs) : results.get(item.index);
    if (r === undefined) throw new NetSyncError('INTERNAL', `batch item [${item.index}] has no result`);
    out[item.index] = r.index === item.index ? r : { ...r, index: item.index };
    if ('error' in r) refused++;
  }
  return { errors: refused > 0, accepted: items.length - refused, refused, items: out };
}

/** The HTTP status of a batch's answer: 202 when every item was accepted, 207 when any was refused. */
export function batchStatus(answer: BatchAnswer): 202 | 207 {
  return answer.errors ? 207 : 202;
}
