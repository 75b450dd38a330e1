import { describe, expect, test } from 'vitest';
import { BatchCoverage } from '../../../src/core/batch-coverage.js';
import { OriginStreams } from '../../../src/core/origin-streams.js';

// Batch `seq` is sent at T0 + 100 * seq; window W's batches end at W + 1,500 (1 s windows, 500 ms lateness).
const T0 = 1_700_000_000_000;
const at = (seq: number): number => T0 + 100 * seq;
const END = (w: number): number => w + 1_500;
const GRACE = 500;

describe('BatchCoverage', () => {
  test('a run from seq 0 is complete for a window once a later batch proves its end', () => {
    const c = new BatchCoverage(0, at(0));
    for (let seq = 1; seq <= 14; seq++) expect(c.batch(seq, at(seq), 0)).toBe('new');
    expect(c.coverage(T0, END(T0))).toBe('pending'); // last batch sent at T0 + 1,400
    expect(c.batch(15, at(15), 0)).toBe('new');
    expect(c.coverage(T0, END(T0))).toBe('complete');
    expect(c.batch(7, at(7), 0)).toBe('duplicate');
  });

  test("a watermark proves the end of an idle origin's window", () => {
    const c = new BatchCoverage(0, at(0));
    c.batch(1, at(1), 0);
    c.watermark(1, T0 + 1_499, 0);
    expect(c.coverage(T0, END(T0))).toBe('pending');
    c.watermark(1, T0 + 1_500, 0);
    expect(c.coverage(T0, END(T0))).toBe('complete');
  });

  test('reordering within the grace period is not a gap', () => {
    const c = new BatchCoverage(0, at(0));
    expect(c.batch(2, at(2), 1_000)).toBe('new');
    expect(c.gapOpen).toBe(true);
    expect(c.settle(1_000 + GRACE - 1, GRACE)).toBe(0);
    expect(c.batch(1, at(1), 1_100)).toBe('new');
    expect(c.gapOpen).toBe(false);
    c.batch(16, at(16), 1_200);
    c.batch(3, at(3), 1_200);
    expect(c.settle(1_200 + GRACE, GRACE)).toBe(12); // 4..15 never came
    expect(c.coverage(T0, END(T0))).toBe('incomplete');
  });

  test('a gap restarts the run at the first batch past it: earlier windows incomplete here, later complete', () => {
    const c = new BatchCoverage(0, at(0));
    for (let seq = 1; seq <= 20; seq++) c.batch(seq, at(seq), 0); // up to T0 + 2,000
    // A cut: 21..59 never arrive; after the heal 60.. do (T0 + 6,000 on).
    for (let seq = 60; seq <= 80; seq++) c.batch(seq, at(seq), 10_000);
    expect(c.batch(30, at(30), 10_100)).toBe('new'); // a replay, held ahead while the gap is open
    expect(c.settle(10_000 + GRACE, GRACE)).toBe(9); // 21..29 given up, restarts at 30; 31..59 are still missing
    expect(c.coverage(T0, END(T0))).toBe('complete'); // before the cut, from the earlier run
    expect(c.coverage(T0 + 2_000, END(T0 + 2_000))).toBe('incomplete');
    expect(c.coverage(T0 + 6_000, END(T0 + 6_000))).toBe('pending');
    expect(c.batch(25, at(25), 10_600)).toBe('outside');
    expect(c.settle(10_500 + GRACE, GRACE)).toBe(29); // 31..59 given up, restarts at 60
    expect(c.coverage(T0 + 6_000, END(T0 + 6_000))).toBe('incomplete'); // 60 is inside it: 59 may hold points of it
    expect(c.coverage(T0 + 7_000, END(T0 + 7_000))).toBe('pending'); // the run reaches T0 + 8,000 only
    for (let seq = 81; seq <= 85; seq++) c.batch(seq, at(seq), 11_000);
    expect(c.coverage(T0 + 7_000, END(T0 + 7_000))).toBe('complete');
  });

  test('a watermark past what arrived is a gap too (the batches were lost, nothing came after)', () => {
    const c = new BatchCoverage(0, at(0));
    c.batch(1, at(1), 0);
    c.watermark(30, at(30) + 5, 5_000);
    expect(c.coverage(T0, END(T0))).toBe('pending');
    expect(c.settle(5_000 + GRACE, GRACE)).toBe(29); // 2..30
    expect(c.coverage(T0, END(T0))).toBe('incomplete');
    expect(c.batch(20, at(20), 5_600)).toBe('outside');
    expect(c.batch(31, at(31), 5_600)).toBe('new');
    expect(c.coverage(T0 + 4_000, END(T0 + 4_000))).toBe('pending');
    c.watermark(60, at(60) + 5, 6_000);
    for (let seq = 32; seq <= 60; seq++) c.batch(seq, at(seq), 6_100);
    expect(c.gapOpen).toBe(false);
    expect(c.coverage(T0 + 3_000, END(T0 + 3_000))).toBe('incomplete'); // the restart (T0 + 3,005) is inside it
    expect(c.coverage(T0 + 4_000, END(T0 + 4_000))).toBe('complete');
  });

  test('started by a watermark: windows after it are complete, batches before it are outside', () => {
    const c = new BatchCoverage(9, at(9) + 5, true);
    expect(c.batch(9, at(9), 0)).toBe('outside');
    for (let seq = 10; seq <= 25; seq++) expect(c.batch(seq, at(seq), 0)).toBe('new');
    expect(c.coverage(T0 + 1_000, END(T0 + 1_000))).toBe('complete');
    expect(c.coverage(T0, END(T0))).toBe('incomplete');
  });
});

describe('OriginStreams', () => {
  test('origins without watermarks are legacy; one watermark makes them tracked', () => {
    const s = new OriginStreams(GRACE);
    s.batch('o', T0, 0, at(0), 0);
    expect(s.coverage('o', T0, T0, END(T0))).toBe('legacy');
    s.watermark('o', T0, 0, at(0) + 1, 10);
    expect(s.watermarked('o')).toBe(true);
    expect(s.coverage('o', T0, T0, END(T0))).toBe('pending');
    expect(s.coverage('o', T0 + 5, T0, END(T0))).toBe('incomplete'); // an epoch never heard
  });

  test('a watermark that overtakes its batches waits a grace period before it starts the run', () => {
    const s = new OriginStreams(GRACE);
    s.watermark('o', T0, 3, at(3) + 1, 0); // first contact: the heartbeat came first
    expect(s.batch('o', T0, 0, at(0), 100)).toBe('new');
    for (let seq = 1; seq <= 15; seq++) s.batch('o', T0, seq, at(seq), 100);
    expect(s.coverage('o', T0, T0, END(T0))).toBe('complete');

    s.watermark('p', T0, 3, at(3) + 1, 0);
    expect(s.settle(GRACE)).toBe(0); // nothing came in time: batches up to 3 were sent before this scout heard 'p'
    expect(s.batch('p', T0, 2, at(2), GRACE + 1)).toBe('outside');
    for (let seq = 4; seq <= 30; seq++) s.batch('p', T0, seq, at(seq), GRACE + 1);
    expect(s.coverage('p', T0, T0, END(T0))).toBe('incomplete');
    expect(s.coverage('p', T0, T0 + 1_000, END(T0 + 1_000))).toBe('complete');
  });

  test('a newer epoch supersedes the old one; idle origins are forgotten', () => {
    const s = new OriginStreams(GRACE);
    s.batch('o', T0, 0, at(0), 0);
    expect(s.superseded('o', T0)).toBe(false);
    s.batch('o', T0 + 60_000, 0, T0 + 60_000, 1_000);
    expect(s.superseded('o', T0)).toBe(true);
    expect(s.lastHeardMs('o')).toBe(1_000);
    s.prune(61_000, 60_000);
    expect(s.size).toBe(1);
    s.prune(61_001, 60_000);
    expect(s.size).toBe(0);
  });
});
