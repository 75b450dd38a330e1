/**
 * Ed25519 with `node:crypto`: public keys read from peer IDs (kept as `KeyObject`s per peer,
 * since building one costs more than a verification) and a signer over a private key's raw
 * bytes. Shared by the mesh's endorsement checks and federation's DSSE signatures.
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import type { DsseSigner, SignatureVerifier } from '../core/federation-trust.js';
import { ed25519KeyOfPeerId } from '../core/peer-key.js';

/** Peers whose key is kept; past this the cache starts over (a fleet and its partners are far smaller). */
const MAX_CACHED_KEYS = 10_000;

const keys = new Map<string, KeyObject | null>();

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

/** The public key inside an Ed25519 peer ID as a cached `KeyObject`; null for any other ID. */
export function ed25519PublicKey(peerId: string): KeyObject | null {
  let key = keys.get(peerId);
  if (key !== undefined) return key;
  const raw = ed25519KeyOfPeerId(peerId);
  try {
    key = raw === null ? null : createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(raw) }, format: 'jwk' });
  } catch {
    key = null;
  }
  if (keys.size >= MAX_CACHED_KEYS) keys.clear();
  keys.set(peerId, key);
  return key;
}

/**
 * True when `signature` over `message` verifies against the Ed25519 key in `peerId`; false, never a throw, otherwise.
 */
export function verifyEd25519(peerId: string, message: Uint8Array, signature: Uint8Array): boolean {
  const key = ed25519PublicKey(peerId);
  if (key === null || signature.length !== 64) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** {@link SignatureVerifier} over peer-ID keys. */
export const ed25519Verifier: SignatureVerifier = { verify: verifyEd25519 };

/** A {@link DsseSigner} holding one Ed25519 private key, signing synchronously with `node:crypto`. */
export class Ed25519Signer implements DsseSigner {
  private readonly key: KeyObject;

  /**
   * @param keyid the key's peer ID.
   * @param raw libp2p's raw Ed25519 private key: the 32-byte seed followed by the 32-byte public key.
   */
  constructor(
    readonly keyid: string,
    raw: Uint8Array,
  ) {
    const pub = ed25519KeyOfPeerId(keyid);
    if (raw.length !== 64 || pub === null)
      throw new TypeError('Ed25519Signer: needs a 64-byte raw key and its peer ID');
    this.key = createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', d: b64url(raw.subarray(0, 32)), x: b64url(pub) },
      format: 'jwk',
    });
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    return sign(null, message, this.key);
  }
}
