import { describe, expect, it } from 'vitest';
import { MAX_BATCH_SPAN, packRuns, spanOf, toBatches, unpackRuns } from '../../../src/core/seq-runs.js';

describe('seq runs', () => {
  it('packs a batch of consecutive rows and stream sequences as one run', () => {
    const pairs = Array.from({ length: 512 }, (_, i) => ({ row: 1_000 + i, stream: 77 + i }));
    const batches = toBatches(pairs);
    expect(batches).toEqual([[{ row: 1_000, stream: 77, length: 512 }]]);
    expect(unpackRuns(packRuns(batches[0]!))).toEqual(batches[0]);
    expect(packRuns(batches[0]!).length).toBe(24);
  });

  it('starts a run where the rows or the stream sequences jump, sorting rows and dropping repeats', () => {
    const batches = toBatches([
      { row: 5, stream: 12 },
      { row: 3, stream: 10 },
      { row: 4, stream: 11 },
      { row: 4, stream: 99 },
      { row: 6, stream: 20 },
      { row: 9, stream: 21 },
    ]);
    expect(batches).toEqual([
      [
        { row: 3, stream: 10, length: 3 },
        { row: 6, stream: 20, length: 1 },
        { row: 9, stream: 21, length: 1 },
      ],
    ]);
    expect(spanOf(batches[0]!)).toEqual({ lo: 3, hi: 9 });
  });

  it('claims (stream 0) run on the rows alone', () => {
    expect(toBatches([1, 2, 3, 7].map((row) => ({ row, stream: 0 })))).toEqual([
      [
        { row: 1, stream: 0, length: 3 },
        { row: 7, stream: 0, length: 1 },
      ],
    ]);
  });

  it('splits a batch wider than MAX_BATCH_SPAN', () => {
    const batches = toBatches([
      { row: 1, stream: 1 },
      { row: 2 + MAX_BATCH_SPAN, stream: 2 },
    ]);
    expect(batches).toHaveLength(2);
    for (const b of batches) {
      const { lo, hi } = spanOf(b);
      expect(hi - lo).toBeLessThanOrEqual(MAX_BATCH_SPAN);
    }
  });

  it('refuses packed bytes that are not whole runs', () => {
    expect(() => unpackRuns(new Uint8Array(25))).toThrow(/multiple of 24/);
  });
});
