import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../../src/observability/status-history.js';

describe('RingBuffer', () => {
  it('keeps the newest items, oldest first', () => {
    const r = new RingBuffer<number>(3);
    expect(r.toArray()).toEqual([]);
    for (const n of [1, 2]) r.push(n);
    expect(r.toArray()).toEqual([1, 2]);
    for (const n of [3, 4, 5]) r.push(n);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect(r.size).toBe(3);
  });

  it('finds the newest item at or before a time, else the oldest', () => {
    const r = new RingBuffer<{ t: number }>(4);
    for (const t of [10, 20, 30]) r.push({ t });
    expect(r.atOrBefore(25, (x) => x.t)).toEqual({ t: 20 });
    expect(r.atOrBefore(5, (x) => x.t)).toEqual({ t: 10 });
    expect(new RingBuffer<{ t: number }>(1).atOrBefore(5, (x) => x.t)).toBeUndefined();
  });

  it('refuses a capacity below 1', () => {
    expect(() => new RingBuffer(0)).toThrow(/capacity/);
  });
});
