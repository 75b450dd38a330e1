/**
 * The Ed25519 public key inside a libp2p peer ID. An Ed25519 peer ID (`12D3KooW…`) is the
 * base58btc identity multihash of the key's protobuf, so the key is read from the ID itself and
 * no key directory is needed. Pure: base58 is decoded here, without node:*.
 */

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const DIGIT = new Map([...ALPHABET].map((c, i) => [c, i]));
// identity multihash (0x00), length 36, then protobuf PublicKey {Type: Ed25519 (1), Data: 32 bytes}.
const ED25519_PREFIX = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20] as const;
const ED25519_ID_BYTES = ED25519_PREFIX.length + 32;
// Every Ed25519 peer ID is 52 base58 characters; checking the length first bounds the work.
const ED25519_ID_CHARS = 52;

/** Bytes of a base58btc string, or null when it holds a character outside the alphabet. */
export function base58Decode(text: string): Uint8Array | null {
  const bytes: number[] = [];
  for (const c of text) {
    let carry = DIGIT.get(c);
    if (carry === undefined) return null;
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i]! * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  for (let i = 0; i < text.length && text[i] === '1'; i++) bytes.push(0);
  return Uint8Array.from(bytes.reverse());
}

/**
 * The 32-byte Ed25519 public key embedded in `peerId`, or null when it is not an Ed25519 peer
 * ID in base58btc form (RSA and secp256k1 IDs, CIDs, anything malformed).
 */
export function ed25519KeyOfPeerId(peerId: string): Uint8Array | null {
  if (peerId.length !== ED25519_ID_CHARS) return null;
  const bytes = base58Decode(peerId);
  if (bytes === null || bytes.length !== ED25519_ID_BYTES) return null;
  for (let i = 0; i < ED25519_PREFIX.length; i++) if (bytes[i] !== ED25519_PREFIX[i]) return null;
  return bytes.subarray(ED25519_PREFIX.length);
}

/** True when `peerId` is an Ed25519 peer ID whose key {@link ed25519KeyOfPeerId} can read. */
export function isEd25519PeerId(peerId: string): boolean {
  return ed25519KeyOfPeerId(peerId) !== null;
}
