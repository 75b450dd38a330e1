/**
 * Signature checks against a peer's own key: an Ed25519 (or secp256k1) peer ID embeds its
 * public key, so no key directory is needed to verify an endorsement.
 */
import { peerIdFromString } from '@libp2p/peer-id';

/**
 * True when `signature` over `bytes` verifies against the public key inside `peerId`. False,
 * never a throw, for a malformed ID, an ID without an embedded key (RSA hashes), or a bad
 * signature. Usable as the `verify` of `verifyCommit`.
 */
export async function verifyPeerSignature(peerId: string, bytes: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    const key = peerIdFromString(peerId).publicKey;
    return key === undefined ? false : await key.verify(bytes, signature);
  } catch {
    return false;
  }
}
