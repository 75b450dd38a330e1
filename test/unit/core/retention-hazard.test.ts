import { describe, expect, it } from 'vitest';
import {
  MIN_UNSAFE_DUPLICATE_WINDOW_MS,
  retentionRefusal,
  sharedIdLookupAfterMs,
  type StreamRetentionView,
  takeoverLookupAfterMs,
  subjectsOverlap,
  unsafeRetentionStreams,
} from '../../../src/core/retention-hazard.js';

const stream = (
  name: string,
  retention: StreamRetentionView['retention'],
  ...subjects: string[]
): StreamRetentionView => ({
  name,
  retention,
  subjects,
  duplicateWindowMs: 120_000,
});

describe('subjectsOverlap', () => {
  it.each([
    ['root.solar.>', 'root.solar.command.a.b', true],
    ['root.solar.command.*.*', 'root.solar.>', true],
    ['root.solar.command.*', 'root.solar.command.a.b', false],
    ['root.*.command.>', 'root.solar.*.x', true],
    ['orders.>', 'root.solar.>', false],
    ['root.solar', 'root.solar.>', false],
    ['>', 'root.solar.x', true],
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
  ])('%s ∩ %s = %s', (a, b, want) => {
    expect(subjectsOverlap(a, b)).toBe(want);
    expect(subjectsOverlap(b, a)).toBe(want);
  });
});

describe('unsafeRetentionStreams', () => {
  it('flags WorkQueue and Interest streams on our subjects only', () => {
    const streams = [
      stream('COMMANDS', 'workqueue', 'root.solar.command.>'),
      stream('AUDIT', 'interest', 'root.solar.*.audit'),
      stream('TELEMETRY', 'limits', 'root.solar.telemetry.>'),
      stream('ORDERS', 'workqueue', 'orders.>'),
    ];
    expect(unsafeRetentionStreams(streams, 'root.solar').map((s) => s.name)).toEqual(['COMMANDS', 'AUDIT']);
  });
});

describe('retentionRefusal', () => {
  const wq = stream('COMMANDS', 'workqueue', 'root.solar.command.>');

  it('names the stream and the opt-in key when not opted in', () => {
    const msg = retentionRefusal([wq], 'root.solar', false);
    expect(msg).toContain('COMMANDS (workqueue)');
    expect(msg).toContain('commit.dedupeOnlyWithinDuplicateWindow');
  });

  it('accepts an opted-in stream only with a long duplicate window', () => {
    expect(retentionRefusal([wq], 'root.solar', true)).toContain('at least 10 min');
    expect(retentionRefusal([{ ...wq, duplicateWindowMs: MIN_UNSAFE_DUPLICATE_WINDOW_MS }], 'root.solar', true)).toBe(
      null,
    );
  });

  it('is null for Limits streams', () => {
    expect(retentionRefusal([stream('COMMANDS', 'limits', 'root.solar.command.>')], 'root.solar', false)).toBe(null);
  });
});

describe('lookup delays from the duplicate windows', () => {
  const w = (...ms: number[]) => ms.map((duplicateWindow) => ({ duplicateWindow }));
  it('takeoverLookupAfterMs: half the shortest window (0 = 2 min), at most 30 s', () => {
    expect(takeoverLookupAfterMs(w(1_000, 120_000))).toBe(500);
    expect(takeoverLookupAfterMs(w(0))).toBe(30_000);
    expect(takeoverLookupAfterMs(w(40_000))).toBe(20_000);
  });
  it('sharedIdLookupAfterMs: half the shortest window, between 10 s and 60 s', () => {
    expect(sharedIdLookupAfterMs(w(1_000))).toBe(10_000);
    expect(sharedIdLookupAfterMs(w(0))).toBe(60_000);
    expect(sharedIdLookupAfterMs(w(40_000, 0))).toBe(20_000);
  });
});
