// The cached signer signs exactly as @libp2p/crypto does, and is the same key otherwise.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { verifyPeerSignature } from '../../../src/mesh/peer-signature.js';
import { withCachedSigner } from '../../../src/mesh/signing-key.js';

describe('withCachedSigner', () => {
  it('gives the same Ed25519 signatures as the key itself, verifiable from the peer ID', async () => {
    const key = await generateKeyPair('Ed25519');
    const fast = withCachedSigner(key);
    const msg = new TextEncoder().encode('net-sync/endorse/v1\nx\ny');
    const sig = await fast.sign(msg);
    expect(sig).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(sig)).toBe(false);
    expect([...sig]).toEqual([...(await key.sign(msg))]);
    const peerId = peerIdFromPrivateKey(fast).toString();
    expect(peerId).toBe(peerIdFromPrivateKey(key).toString());
    expect(await verifyPeerSignature(peerId, msg, sig)).toBe(true);
    expect(fast.equals(key)).toBe(true);
    expect(fast.type).toBe('Ed25519');
  });

  it('leaves other key types as they are', async () => {
    const key = await generateKeyPair('secp256k1');
    expect(withCachedSigner(key)).toBe(key);
  });
});
