/**
 * Signature checks against a peer's own key: an Ed25519 (or secp256k1) peer ID embeds its
 * public key, so no key directory is needed to verify an endorsement. Ed25519 keys are kept as
 * `KeyObject`s per peer: `@libp2p/crypto` rebuilds the key from JWK on every verify, which cost
 * more than the verification itself.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { PublicKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';

/** Peers whose key is kept; past this the cache starts over (a fleet is far smaller). */
const MAX_CACHED_KEYS = 10_000;

type CachedKey = { kind: 'ed25519'; key: KeyObject } | { kind: 'other'; key: PublicKey } | { kind: 'none' };

const keys = new Map<string, CachedKey>();

function keyOf(peerId: string): CachedKey {
  let cached = keys.get(peerId);
  if (cached !== undefined) return cached;
  try {
    const key = peerIdFromString(peerId).publicKey;
    if (key === undefined) cached = { kind: 'none' };
    else if (key.type === 'Ed25519') {
      const x = Buffer.from(key.raw).toString('base64url');
      cached = { kind: 'ed25519', key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }) };
    } else cached = { kind: 'other', key };
  } catch {
    cached = { kind: 'none' };
  }
  if (keys.size >= MAX_CACHED_KEYS) keys.clear();
  keys.set(peerId, cached);
  return cached;
}

/**
 * True when `signature` over `bytes` verifies against the public key inside `peerId`. False,
 * never a throw, for a malformed ID, an ID without an embedded key (RSA hashes), or a bad
 * signature. Usable as the `verify` of `verifyCommit`.
 */
export async function verifyPeerSignature(peerId: string, bytes: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const k = keyOf(peerId);
  try {
    if (k.kind === 'ed25519') return verify(null, bytes, k.key, signature);
    if (k.kind === 'other') return await k.key.verify(bytes, signature);
    return false;
  } catch {
    return false;
  }
}
