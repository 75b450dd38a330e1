import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { Ed25519Signer, ed25519Verifier } from '../../../src/runtime/ed25519-keys.js';
import { WorkerEd25519Verifier } from '../../../src/runtime/worker-verifier.js';

async function signer(): Promise<Ed25519Signer> {
  const k = await generateKeyPair('Ed25519');
  return new Ed25519Signer(peerIdFromPrivateKey(k).toString(), k.raw);
}

describe('WorkerEd25519Verifier', () => {
  it('answers on a worker what the in-thread verifier answers, batch by batch', async () => {
    const [a, b] = [await signer(), await signer()];
    const verifier = new WorkerEd25519Verifier();
    try {
      const cases = await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          const message = new TextEncoder().encode(`message ${i}`);
          const by = i % 2 === 0 ? a : b;
          const sig = await by.sign(message);
          // Every third signature is checked against the other key, every fifth is damaged.
          if (i % 5 === 0) sig[0]! ^= 1;
          return { keyid: i % 3 === 0 ? (by === a ? b : a).keyid : by.keyid, message, sig };
        }),
      );
      const got = await Promise.all(cases.map((c) => verifier.verify(c.keyid, c.message, c.sig)));
      const want = cases.map((c) => ed25519Verifier.verify(c.keyid, c.message, c.sig));
      expect(got).toEqual(want);
      expect(got.filter((ok) => ok).length).toBeGreaterThan(100);
      expect(got.filter((ok) => !ok).length).toBeGreaterThan(100);
    } finally {
      await verifier.close();
    }
  });

  it('refuses an ID without an Ed25519 key and a signature of the wrong length without the worker', async () => {
    const a = await signer();
    const verifier = new WorkerEd25519Verifier();
    try {
      const message = new Uint8Array([1, 2, 3]);
      const sig = await a.sign(message);
      expect(verifier.verify('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N', message, sig)).toBe(false);
      expect(verifier.verify(a.keyid, message, sig.subarray(0, 63))).toBe(false);
      expect(await verifier.verify(a.keyid, message, sig)).toBe(true);
    } finally {
      await verifier.close();
    }
  });

  it('verifies on the calling thread once closed, and closes twice', async () => {
    const a = await signer();
    const verifier = new WorkerEd25519Verifier();
    const message = new Uint8Array([7]);
    const sig = await a.sign(message);
    const pending = verifier.verify(a.keyid, message, sig);
    await verifier.close();
    await verifier.close();
    expect(await pending).toBe(true);
    expect(await verifier.verify(a.keyid, message, sig)).toBe(true);
    expect(await verifier.verify(a.keyid, new Uint8Array([8]), sig)).toBe(false);
  });
});
