import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/digest.js';
import { sha256HexNode } from '../../../src/runtime/sha256.js';

describe('sha256HexNode', () => {
  it("gives core's pure digest, byte for byte", () => {
    const empty = new Uint8Array(0);
    expect(sha256HexNode(empty)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    for (const n of [1, 55, 56, 64, 333, 1_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 255);
      expect(sha256HexNode(bytes)).toBe(sha256Hex(bytes));
    }
  });
});
