import { describe, expect, it } from 'vitest';
import type { IntentState, OutboxRow } from '../../../src/core/intent.js';
import { planReconcile } from '../../../src/reconcile/plan.js';

let n = 0;
function row(state: IntentState, extra: Partial<OutboxRow> = {}): OutboxRow {
  n++;
  return {
    seq: n,
    correlationId: `id-${n}`,
    subject: 'root.solar.command.a.b',
    body: new Uint8Array(),
    headers: {},
    kind: 'command',
    state,
    createdAtMs: 0,
    attempts: 0,
    firstAttemptAtMs: null,
    lastAttemptAtMs: null,
    lastError: null,
    updatedAtMs: 0,
    stream: null,
    streamSeq: null,
    committedAtMs: null,
    reason: null,
    ...extra,
  };
}

describe('planReconcile', () => {
  it('marks uncertain rows found in the stream committed and publishes the rest', () => {
    const found = row('in-flight');
    const missing = row('in-flight');
    const pending = row('pending-commit');
    const plan = planReconcile([found, missing, pending], new Map([[found.correlationId, { stream: 'C', seq: 7 }]]));
    expect(plan.markCommitted).toEqual([{ correlationId: found.correlationId, stream: 'C', seq: 7 }]);
    expect(plan.publish.map((r) => r.correlationId)).toEqual([missing.correlationId, pending.correlationId]);
  });

  it('verifies committed rows, tells loss from retention, and reports dead rows', () => {
    const ok = row('committed', { stream: 'C', streamSeq: 10 });
    const lost = row('committed', { stream: 'C', streamSeq: 11 });
    const moved = row('committed', { stream: 'C', streamSeq: 12 });
    const aged = row('committed', { stream: 'C', streamSeq: 2 });
    const dead = row('dead', { reason: 'NATS_NO_STREAM: no stream' });
    const plan = planReconcile(
      [ok, lost, moved, aged, dead],
      new Map([
        [ok.correlationId, { stream: 'C', seq: 10 }],
        [moved.correlationId, { stream: 'C', seq: 13 }],
      ]),
      new Map([['C', 5]]),
    );
    expect(plan.verified).toBe(1);
    expect(plan.retentionExpired).toBe(1);
    expect(plan.lost).toEqual([
      { correlationId: lost.correlationId, subject: lost.subject, stream: 'C', seq: 11, kind: 'absent' },
      { correlationId: moved.correlationId, subject: moved.subject, stream: 'C', seq: 12, kind: 'moved', foundSeq: 13 },
    ]);
    expect(plan.dead).toEqual([
      { correlationId: dead.correlationId, subject: dead.subject, reason: 'NATS_NO_STREAM: no stream' },
    ]);
    expect(plan.publish).toEqual([]);
  });
});
