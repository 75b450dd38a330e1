import { describe, expect, it } from 'vitest';
import { sameBytes } from '../../../src/core/same-bytes.js';

describe('sameBytes', () => {
  it('is true for equal bytes, views included, and false for any difference', () => {
    const a = new Uint8Array([1, 2, 3]);
    expect(sameBytes(a, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(sameBytes(new Uint8Array(), new Uint8Array())).toBe(true);
    expect(sameBytes(new Uint8Array([0, 1, 2, 3]).subarray(1), a)).toBe(true);
    expect(sameBytes(a, new Uint8Array([1, 2, 4]))).toBe(false);
    expect(sameBytes(a, new Uint8Array([1, 2]))).toBe(false);
    expect(sameBytes(a, new Uint8Array([1, 2, 3, 0]))).toBe(false);
  });
});
