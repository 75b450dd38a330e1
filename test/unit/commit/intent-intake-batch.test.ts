import { describe, expect, it } from 'vitest';
import { IntentIntake } from '../../../src/commit/intent-intake.js';
import { keyedCorrelationId } from '../../../src/core/idempotency.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';

const SUBJECT = 'root.solar.command.sentiment.set';

function intake(outbox: MemoryOutbox, woken: string[] = []): IntentIntake {
  let n = 0;
  return new IntentIntake({
    outbox,
    clock: new ManualClock(),
    limits: { prefix: 'root.solar', maxPayloadBytes: 1_000, maxBatchItems: 10 },
    origin: 'peer-a',
    newId: () => `01HZZZZZZZZZZZZZZZZZZZZ${String(n++).padStart(3, '0')}`,
    randomHex: (bytes) => 'ab'.repeat(bytes),
    onAccepted: (id) => woken.push(id),
  });
}

describe('IntentIntake.acceptBatch', () => {
  it('stores the valid items in one append and answers every item in order', async () => {
    const outbox = new MemoryOutbox();
    const woken: string[] = [];
    const answer = await intake(outbox, woken).acceptBatch([
      { subject: SUBJECT, payload: { n: 0 } },
      { subject: 'root.solar.telemetry.x.y', payload: 1 },
      { subject: SUBJECT, payload: { n: 2 }, idempotencyKey: 'order-2' },
      { subject: SUBJECT, payload: { n: 2 }, idempotencyKey: 'order-2' },
    ]);
    expect(outbox.appendCalls).toBe(1);
    expect(answer).toMatchObject({ errors: true, accepted: 3, refused: 1 });
    expect(answer.items[0]).toMatchObject({ index: 0, state: 'pending-commit' });
    expect(answer.items[1]).toMatchObject({ index: 1, error: { code: 'INPUT_INVALID', field: '[1].subject' } });
    const keyed = keyedCorrelationId('order-2');
    expect(answer.items[2]).toEqual({ index: 2, correlationId: keyed, state: 'pending-commit' });
    expect(answer.items[3]).toEqual({ index: 3, correlationId: keyed, state: 'pending-commit' });
    expect(outbox.counts('command')['pending-commit']).toBe(2);
    expect(woken).toHaveLength(2);
  });

  it('answers a stored key with its intent (replay) and another body under it with a conflict', async () => {
    const outbox = new MemoryOutbox();
    const first = await intake(outbox).acceptBatch([{ subject: SUBJECT, payload: 1, idempotencyKey: 'k' }]);
    expect(first.errors).toBe(false);
    const again = await intake(outbox).acceptBatch([
      { subject: SUBJECT, payload: 1, idempotencyKey: 'k' },
      { subject: SUBJECT, payload: 2, idempotencyKey: 'k2' },
    ]);
    expect(again.items[0]).toEqual(first.items[0]);
    expect(again.accepted).toBe(2);
    const conflict = await intake(outbox).acceptBatch([{ subject: SUBJECT, payload: 9, idempotencyKey: 'k' }]);
    expect(conflict).toMatchObject({ errors: true, accepted: 0, refused: 1 });
    expect(conflict.items[0]).toMatchObject({ error: { code: 'IDEMPOTENCY_CONFLICT', field: '[0].idempotencyKey' } });
    expect(outbox.counts('command')['pending-commit']).toBe(2);
  });

  it('stores nothing when every item is refused, and refuses an over-long batch whole', async () => {
    const outbox = new MemoryOutbox();
    const answer = await intake(outbox).acceptBatch([{ subject: SUBJECT }, { payload: 1 }]);
    expect(answer).toMatchObject({ errors: true, accepted: 0, refused: 2 });
    expect(outbox.appendCalls).toBe(0);
    await expect(intake(outbox).acceptBatch(Array(11).fill({ subject: SUBJECT, payload: 1 }))).rejects.toThrow(
      /api\.maxBatchItems/,
    );
    await expect(intake(outbox).acceptBatch([])).rejects.toThrow(/empty array/);
  });
});
