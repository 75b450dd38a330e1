/**
 * Signature checks against a peer's own key: an Ed25519 (or secp256k1) peer ID embeds its
 * public key, so no key directory is needed to verify an endorsement. Ed25519 keys come from
 * the `KeyObject` cache federation shares (`runtime/ed25519-keys.ts`): `@libp2p/crypto` rebuilds
 * the key from JWK on every verify, which cost more than the verification itself.
 */
import type { PublicKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { ed25519PublicKey, verifyEd25519 } from '../runtime/ed25519-keys.js';

/** Peers whose non-Ed25519 key is kept; past this the cache starts over (a fleet is far smaller). */
const MAX_CACHED_KEYS = 10_000;

const others = new Map<string, PublicKey | null>();

// A key that is not Ed25519 (secp256k1), through @libp2p/crypto; null when the ID embeds none.
function otherKeyOf(peerId: string): PublicKey | null {
  let cached = others.get(peerId);
  if (cached !== undefined) return cached;
  try {
    cached = peerIdFromString(peerId).publicKey ?? null;
  } catch {
    cached = null;
  }
  if (others.size >= MAX_CACHED_KEYS) others.clear();
  others.set(peerId, cached);
  return cached;
}

/**
 * True when `signature` over `bytes` verifies against the public key inside `peerId`. False,
 * never a throw, for a malformed ID, an ID without an embedded key (RSA hashes), or a bad
 * signature. Usable as the `verify` of `verifyCommit`.
 */
export async function verifyPeerSignature(peerId: string, bytes: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (ed25519PublicKey(peerId) !== null) return verifyEd25519(peerId, bytes, signature);
  const key = otherKeyOf(peerId);
  try {
    return key === null ? false : await key.verify(bytes, signature);
  } catch {
    return false;
  }
}
