/**
 * The node's private key with a cheaper `sign`: `@libp2p/crypto` rebuilds an Ed25519 key from
 * JWK on every signature (the profile in docs/benchmarks.md#consensus), and libp2p signs every
 * gossip message (StrictSign) besides our endorsements. The returned key is the same key in
 * every other respect (the original is its prototype), so libp2p (gossipsub, Noise, identify)
 * and our endorsements share one cached `KeyObject`.
 */
import { createPrivateKey, sign } from 'node:crypto';
import type { PrivateKey } from '@libp2p/interface';

/** `key` signing through a cached `KeyObject` when it is Ed25519; any other key as it is. */
export function withCachedSigner(key: PrivateKey): PrivateKey {
  if (key.type !== 'Ed25519' || key.raw.length !== 64) return key;
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
  const keyObject = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: b64(key.raw.subarray(0, 32)), x: b64(key.raw.subarray(32)) },
    format: 'jwk',
  });
  const cached = (data: Uint8Array | { subarray(): Uint8Array }): Uint8Array => {
    const sig = sign(null, data instanceof Uint8Array ? data : data.subarray(), keyObject);
    // A plain Uint8Array, as @libp2p/crypto answers, not a Buffer.
    return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
  };
  return Object.create(key, { sign: { value: cached } }) as PrivateKey;
}
