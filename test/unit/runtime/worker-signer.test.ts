import { verify } from 'node:crypto';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { ed25519PublicKey, Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';
import { WorkerEd25519Signer } from '../../../src/runtime/worker-signer.js';

async function key(): Promise<{ id: string; raw: Uint8Array }> {
  const k = await generateKeyPair('Ed25519');
  return { id: peerIdFromPrivateKey(k).toString(), raw: k.raw };
}

describe('WorkerEd25519Signer', () => {
  it('signs on a worker what the in-thread signer signs, batch by batch', async () => {
    const { id, raw } = await key();
    const signer = new WorkerEd25519Signer(id, raw);
    try {
      const messages = Array.from({ length: 300 }, (_, i) => new TextEncoder().encode(`message ${i}`));
      const sigs = await Promise.all(messages.map((m) => signer.sign(m)));
      const here = new Ed25519Signer(id, raw);
      for (let i = 0; i < messages.length; i++) {
        expect(verify(null, messages[i]!, ed25519PublicKey(id)!, sigs[i]!), `message ${i}`).toBe(true);
        // Ed25519 is deterministic.
        expect(Buffer.from(sigs[i]!), `message ${i}`).toEqual(Buffer.from(await here.sign(messages[i]!)));
      }
    } finally {
      await signer.close();
    }
  });

  it('signs on the calling thread once closed, and closes twice', async () => {
    const { id, raw } = await key();
    const signer = new WorkerEd25519Signer(id, raw);
    const pending = signer.sign(new Uint8Array([1]));
    await signer.close();
    await signer.close();
    const sig = await signer.sign(new Uint8Array([2]));
    expect(verify(null, new Uint8Array([2]), ed25519PublicKey(id)!, sig)).toBe(true);
    expect(verify(null, new Uint8Array([1]), ed25519PublicKey(id)!, await pending)).toBe(true);
  });

  it('refuses a key that does not match its peer ID form', async () => {
    const { id } = await key();
    expect(() => new WorkerEd25519Signer(id, new Uint8Array(32))).toThrow(TypeError);
  });
});
