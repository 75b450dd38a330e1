/**
 * Who may speak for an organisation: pinned keys with validity windows, and DSSE's t-of-n rule
 * (an envelope holds when at least `threshold` distinct trusted keys, each valid at the time that
 * counts, signed it). Signing and verifying are ports, so the rule stays pure
 * (docs/federation.md).
 */
import { base64Encode, type DecodedEnvelope, type DsseEnvelope, pae } from './dsse.js';

/** Why a federation message is refused; one per refusal, in the receipt and the counts. */
export const FEDERATION_REASONS = [
  'malformed',
  'payload-type',
  'bad-signature',
  'untrusted-key',
  'retired-key',
  'below-threshold',
  'wrong-sender',
  'wrong-recipient',
  'id-mismatch',
  'equivocation',
] as const;
export type FederationReason = (typeof FEDERATION_REASONS)[number];

/** A pinned signing key: a peer ID, trusted from `notBeforeMs` (inclusive) until `notAfterMs` (exclusive). */
export interface TrustedKey {
  id: string;
  notBeforeMs?: number;
  notAfterMs?: number;
}

/** Signs with one federation key (the adapter holds the private key). */
export interface DsseSigner {
  /** The key's ID as envelopes carry it: this key's peer ID. */
  readonly keyid: string;
  /** Signature over `message` (the PAE bytes): 64 bytes for Ed25519. */
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** Releases what the signer holds (a worker thread); optional, safe twice. */
  close?(): Promise<void>;
}

/** Verifies signatures by key ID (the adapter reads the public key out of the peer ID). */
export interface SignatureVerifier {
  /** True when `signature` over `message` verifies against `keyid`'s key; false, never a throw, otherwise. */
  verify(keyid: string, message: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>;
  /** Releases what the verifier holds (a worker thread); optional, safe twice. */
  close?(): Promise<void>;
}

/** Where a key stands at a time. */
export type KeyStanding = 'valid' | 'not-yet-valid' | 'retired';

/** A key's standing at `atMs`: before `notBeforeMs` it is not yet valid, from `notAfterMs` on retired. */
export function keyStanding(key: TrustedKey, atMs: number): KeyStanding {
  if (key.notBeforeMs !== undefined && atMs < key.notBeforeMs) return 'not-yet-valid';
  if (key.notAfterMs !== undefined && atMs >= key.notAfterMs) return 'retired';
  return 'valid';
}

/** The verdict of {@link checkThreshold}: the distinct keys whose signatures held, and the reason when too few. */
export type ThresholdVerdict =
  | { ok: true; signers: string[] }
  | {
      ok: false;
      reason: Extract<FederationReason, 'bad-signature' | 'untrusted-key' | 'retired-key' | 'below-threshold'>;
      signers: string[];
    };

/**
 * DSSE's (t, n) check: counts the distinct key IDs that are among `keys`, valid at `atMs`, and
 * whose signature over PAE(type, body) verifies; stops once `threshold` are counted. Signatures
 * by unknown or out-of-window keys are never verified. As many signatures as are still needed are
 * verified at once (an asynchronous verifier checks them together), in the envelope's order. When
 * fewer than `threshold` hold, the reason is `below-threshold` if any held (or none was there),
 * else the worst seen of `bad-signature`, `retired-key`, `untrusted-key` (a key not yet valid
 * counts as untrusted).
 */
export async function checkThreshold(
  envelope: DecodedEnvelope,
  keys: readonly TrustedKey[],
  threshold: number,
  atMs: number,
  verifier: SignatureVerifier,
): Promise<ThresholdVerdict> {
  const byId = new Map(keys.map((k) => [k.id, k]));
  let retired = false;
  let untrusted = false;
  // The signatures whose key is valid at `atMs`.
  const candidates: Array<{ keyid: string; sig: Uint8Array }> = [];
  for (const s of envelope.signatures) {
    const key = byId.get(s.keyid);
    const standing = key === undefined ? 'not-yet-valid' : keyStanding(key, atMs);
    if (standing === 'retired') retired = true;
    if (standing === 'valid') candidates.push(s);
    else untrusted ||= standing === 'not-yet-valid';
  }
  const signers: string[] = [];
  let bad = false;
  let message: Uint8Array | undefined;
  for (let next = 0; next < candidates.length && signers.length < threshold; ) {
    // The next signatures of keys not counted yet, one per key, as many as are still needed.
    const round: Array<{ keyid: string; sig: Uint8Array }> = [];
    while (next < candidates.length && round.length < threshold - signers.length) {
      const c = candidates[next]!;
      if (round.some((r) => r.keyid === c.keyid)) break;
      next++;
      if (!signers.includes(c.keyid)) round.push(c);
    }
    if (round.length === 0) continue;
    message ??= pae(envelope.payloadType, envelope.body);
    const m = message;
    const held = await Promise.all(round.map((s) => verifier.verify(s.keyid, m, s.sig)));
    for (const [i, ok] of held.entries()) {
      if (ok) signers.push(round[i]!.keyid);
      else bad = true;
    }
  }
  if (signers.length >= threshold) return { ok: true, signers };
  if (signers.length > 0 || envelope.signatures.length === 0) return { ok: false, reason: 'below-threshold', signers };
  const reason = bad ? 'bad-signature' : retired ? 'retired-key' : untrusted ? 'untrusted-key' : 'below-threshold';
  return { ok: false, reason, signers };
}

/** Signs `body` as `payloadType` with every signer (in order); the envelope carries one signature each. */
export async function signEnvelope(
  payloadType: string,
  body: Uint8Array,
  signers: readonly DsseSigner[],
): Promise<DsseEnvelope> {
  const message = pae(payloadType, body);
  const sigs = await Promise.all(signers.map((s) => s.sign(message)));
  return {
    payloadType,
    payload: base64Encode(body),
    signatures: signers.map((s, i) => ({ keyid: s.keyid, sig: base64Encode(sigs[i]!) })),
  };
}
