/**
 * An independent DSSE verifier's parts: node:crypto and the specs (DSSE's PAE, libp2p peer IDs),
 * no net-sync code, so federation tests check envelopes the way a partner's own tooling would.
 */
import { createPublicKey } from 'node:crypto';

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** The Ed25519 public key inside a libp2p peer ID (identity multihash of the protobuf key). */
export function ed25519KeyFromPeerId(peerId: string): ReturnType<typeof createPublicKey> {
  let n = 0n;
  for (const c of peerId) n = n * 58n + BigInt(B58.indexOf(c));
  const bytes = Buffer.from(n.toString(16).padStart(76, '0'), 'hex'); // 00 24 08 01 12 20 ‖ key
  if (bytes.subarray(0, 6).toString('hex') !== '002408011220') throw new Error(`${peerId}: not an Ed25519 peer ID`);
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: bytes.subarray(6).toString('base64url') },
    format: 'jwk',
  });
}

/** DSSE's pre-authentication encoding of `body` under `type`. */
export function paeOf(type: string, body: Buffer): Buffer {
  const t = Buffer.from(type, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${body.length} `), body]);
}
