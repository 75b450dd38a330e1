// The chaos oracle is itself judged, for keyed intents: the attempts of one Idempotency-Key are one
// intent, which must be stored once under the ID every attempt was answered with.
import { describe, expect, it } from 'vitest';
import { judge, judgeKeyed, type StreamEntry } from '../../chaos/harness/oracle.js';
import type { Attempt } from '../../chaos/harness/workload.js';

const attempt = (key: string, target: string, over: Partial<Attempt> = {}): Attempt => ({
  key,
  idempotencyKey: key,
  proposer: 'keyed',
  n: 0,
  subject: 'root.solar.command.keyed.set',
  target,
  sentAtMs: 1,
  doneAtMs: 2,
  outcome: 'acked',
  correlationId: `id-${key}`,
  httpStatus: 202,
  error: null,
  ...over,
});

const entry = (key: string, seq: number, msgId = `id-${key}`): StreamEntry => ({
  stream: 'COMMANDS',
  seq,
  msgId,
  correlationId: msgId,
  key,
  endorsers: [],
  timeMs: seq,
});

describe('judge and judgeKeyed on keyed intents', () => {
  it('a key posted on two sidecars and stored once is clean', () => {
    const attempts = [attempt('k1', 'a'), attempt('k1', 'b'), attempt('u1', 'a', { idempotencyKey: null })];
    const entries = [entry('k1', 1), entry('u1', 2)];
    expect(judge(attempts, entries)).toMatchObject({ committed: 2, lost: 0, duplicated: 0, unexpected: 0 });
    expect(judgeKeyed(attempts, entries)).toEqual({
      intents: 1,
      attempts: 2,
      sameIdEverywhere: 1,
      storedOnce: 1,
      problems: [],
    });
  });

  it('a key stored twice, or answered with two IDs, is found', () => {
    const twice = [entry('k1', 1), entry('k1', 2)];
    expect(judge([attempt('k1', 'a'), attempt('k1', 'b')], twice).duplicated).toBe(1);
    expect(judgeKeyed([attempt('k1', 'a'), attempt('k1', 'b')], twice).storedOnce).toBe(0);

    const split = [attempt('k1', 'a'), attempt('k1', 'b', { correlationId: 'other' })];
    const stored = [entry('k1', 1), entry('k1', 2, 'other')];
    expect(judge(split, stored).duplicated).toBe(1);
    const keyed = judgeKeyed(split, stored);
    expect(keyed.sameIdEverywhere).toBe(0);
    expect(keyed.problems.join('\n')).toMatch(/k1: answered/);
  });

  it('a keyed intent one sidecar refused still counts as attempted; one never stored is lost', () => {
    const attempts = [attempt('k1', 'a'), attempt('k1', 'b', { outcome: 'rejected', correlationId: null })];
    expect(judge(attempts, [entry('k1', 1)]).unexpected).toBe(0);
    expect(judgeKeyed(attempts, [entry('k1', 1)]).sameIdEverywhere).toBe(0);
    expect(judge(attempts, []).lost).toBe(1);
    expect(judgeKeyed(attempts, []).problems.join('\n')).toMatch(/k1: stored 0 times/);
  });
});
