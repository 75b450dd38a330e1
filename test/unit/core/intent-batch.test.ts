import { describe, expect, it } from 'vitest';
import { NetSyncError } from '../../../src/core/errors.js';
import {
  batchAnswer,
  batchStatus,
  itemError,
  parseIntentBatch,
  type BatchItemResult,
} from '../../../src/core/intent-batch.js';

const LIMITS = { prefix: 'root.solar', maxPayloadBytes: 100, maxBatchItems: 5 };
const SUBJECT = 'root.solar.command.sentiment.set';

function errorOf(fn: () => unknown): NetSyncError {
  try {
    fn();
  } catch (err) {
    if (err instanceof NetSyncError) return err;
  }
  throw new Error('expected a NetSyncError');
}

describe('parseIntentBatch', () => {
  it('refuses an empty batch (INPUT_INVALID naming body) and one over maxBatchItems (naming the key)', () => {
    const empty = errorOf(() => parseIntentBatch([], LIMITS));
    expect([empty.code, empty.field]).toEqual(['INPUT_INVALID', 'body']);
    expect(empty.message).toMatch(/empty array/);
    const big = errorOf(() => parseIntentBatch(Array(6).fill({ subject: SUBJECT, payload: 1 }), LIMITS));
    expect([big.code, big.field]).toEqual(['BATCH_TOO_LARGE', 'body']);
    expect(big.message).toMatch(/6 intents, over the limit of 5 \(api\.maxBatchItems\)/);
    expect(parseIntentBatch(Array(5).fill({ subject: SUBJECT, payload: 1 }), LIMITS)).toHaveLength(5);
  });

  it('validates every item and names the field with its index', () => {
    const items = parseIntentBatch(
      [
        { subject: SUBJECT, payload: { a: 1 } },
        { subject: 'elsewhere.x', payload: 1 },
        { subject: SUBJECT },
        'not an object',
        { subject: SUBJECT, payload: 'x'.repeat(200), extra: 1 },
      ],
      LIMITS,
    );
    expect(items[0]).toMatchObject({ index: 0, input: { subject: SUBJECT, payload: { a: 1 } } });
    const errors = items.slice(1).map((i) => ('error' in i ? i.error : null));
    expect(errors.map((e) => e?.field)).toEqual(['[1].subject', '[2].payload', '[3]', '[4].extra']);
    expect(errors[0]).toMatchObject({
      code: 'INPUT_INVALID',
      message: expect.stringMatching(/^\[1\]\.subject: must start/),
    });
    expect(errors[1]?.message).toBe('[2].payload: is required');
    const tooLarge = parseIntentBatch([{ subject: SUBJECT, payload: 'x'.repeat(200) }], LIMITS)[0]!;
    expect('error' in tooLarge && tooLarge.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: '[0].payload' });
  });

  it('takes an idempotencyKey per item, refusing a bad one as [i].idempotencyKey', () => {
    const [ok, bad] = parseIntentBatch(
      [
        { subject: SUBJECT, payload: 1, idempotencyKey: 'order-1' },
        { subject: SUBJECT, payload: 2, idempotencyKey: 'with space' },
      ],
      LIMITS,
    );
    expect(ok).toMatchObject({ index: 0, idempotencyKey: 'order-1' });
    expect('error' in bad! && bad.error).toMatchObject({ code: 'INPUT_INVALID', field: '[1].idempotencyKey' });
  });

  it('marks a repeated key with the same intent sameAs the first, and refuses another intent under it', () => {
    const items = parseIntentBatch(
      [
        { subject: SUBJECT, payload: { a: 1, b: 2 }, idempotencyKey: 'k' },
        { subject: SUBJECT, payload: { b: 2, a: 1 }, idempotencyKey: 'k' },
        { subject: SUBJECT, payload: { a: 2 }, idempotencyKey: 'k' },
        { subject: SUBJECT, payload: { a: 1, b: 2 } },
      ],
      LIMITS,
    );
    expect(items[1]).toEqual({ index: 1, sameAs: 0 });
    expect('error' in items[2]! && items[2].error).toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
      field: '[2].idempotencyKey',
    });
    expect(items[3]).toMatchObject({ index: 3, idempotencyKey: undefined });
  });
});

describe('batchAnswer and batchStatus', () => {
  it('answers in request order, copies a sameAs result under its own index, and counts', () => {
    const items = parseIntentBatch(
      [
        { subject: SUBJECT, payload: 1, idempotencyKey: 'k' },
        { subject: 'bad', payload: 1 },
        { subject: SUBJECT, payload: 1, idempotencyKey: 'k' },
      ],
      LIMITS,
    );
    const results = new Map<number, BatchItemResult>([
      [0, { index: 0, correlationId: 'A', state: 'pending-commit' }],
      [1, items[1] as BatchItemResult],
    ]);
    const answer = batchAnswer(items, results);
    expect(answer).toMatchObject({ errors: true, accepted: 2, refused: 1 });
    expect(answer.items.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(answer.items[2]).toEqual({ index: 2, correlationId: 'A', state: 'pending-commit' });
    expect(batchStatus(answer)).toBe(207);
    const clean = batchAnswer(items.slice(0, 1), new Map([[0, results.get(0)!]]));
    expect([clean.errors, batchStatus(clean)]).toEqual([false, 202]);
  });

  it('fails loudly when an item has no result', () => {
    const items = parseIntentBatch([{ subject: SUBJECT, payload: 1 }], LIMITS);
    expect(() => batchAnswer(items, new Map())).toThrow(/\[0\] has no result/);
  });
});

describe('itemError', () => {
  it('scopes an item error to its index and rethrows anything that is not the item fault', () => {
    const conflict = new NetSyncError('IDEMPOTENCY_CONFLICT', 'idempotency-key: already used', {
      field: 'idempotency-key',
    });
    expect(itemError(7, conflict)).toEqual({
      code: 'IDEMPOTENCY_CONFLICT',
      field: '[7].idempotencyKey',
      message: '[7].idempotencyKey: already used',
    });
    const io = new NetSyncError('OUTBOX_IO', 'disk full');
    expect(() => itemError(0, io)).toThrow(io);
  });
});
