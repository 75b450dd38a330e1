/**
 * DSSE, the signing envelope of in-toto and Sigstore (github.com/secure-systems-lab/dsse):
 * `{payloadType, payload, signatures[{keyid, sig}]}`, each signature over
 * `PAE(payloadType, payload)`. Pure: the pre-authentication encoding, base64 and the JSON
 * envelope's codec. Signing and verifying come through ports (`federation-trust.ts`).
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** One signature of an envelope: who signed (`keyid`, a peer ID here) and the base64 signature. */
export interface DsseSignature {
  keyid: string;
  sig: string;
}

/** The DSSE JSON envelope as carried on the wire. */
export interface DsseEnvelope {
  payloadType: string;
  /** Base64 of the serialized body. */
  payload: string;
  signatures: DsseSignature[];
}

/** An envelope whose fields decoded: the exact body bytes and the raw signature bytes. */
export interface DecodedEnvelope {
  payloadType: string;
  /** The serialized body: the bytes that were signed, and the only ones to parse (spec). */
  body: Uint8Array;
  signatures: Array<{ keyid: string; sig: Uint8Array }>;
}

/** The outcome of {@link decodeEnvelope}: the envelope, or the first field that is wrong. */
export type EnvelopeDecoding = { ok: true; envelope: DecodedEnvelope } | { ok: false; field: string; message: string };

/**
 * The pre-authentication encoding: `DSSEv1 SP len(type) SP type SP len(body) SP body`, lengths
 * as ASCII decimal byte counts (of the UTF-8 type and of the body). Signatures cover these bytes.
 */
export function pae(payloadType: string, body: Uint8Array): Uint8Array {
  const type = encoder.encode(payloadType);
  const head = encoder.encode(`DSSEv1 ${type.length} `);
  const mid = encoder.encode(` ${body.length} `);
  const out = new Uint8Array(head.length + type.length + mid.length + body.length);
  out.set(head, 0);
  out.set(type, head.length);
  out.set(mid, head.length + type.length);
  out.set(body, head.length + type.length + mid.length);
  return out;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
// Both alphabets decode: `+/` (standard) and `-_` (URL-safe); -1 marks any other character.
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) SEXTET[ALPHABET.charCodeAt(i)] = i;
SEXTET['-'.charCodeAt(0)] = 62;
SEXTET['_'.charCodeAt(0)] = 63;
const CODE = encoder.encode(ALPHABET);
const ascii = new TextDecoder();

// Table-driven rather than btoa/atob: those are several times slower on Node 20, and an
// event is encoded on every accept.
/** Standard base64 (RFC 4648 §4) with padding. */
export function base64Encode(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  const whole = bytes.length - (bytes.length % 3);
  let o = 0;
  for (let i = 0; i < whole; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = CODE[n >> 18]!;
    out[o++] = CODE[(n >> 12) & 63]!;
    out[o++] = CODE[(n >> 6) & 63]!;
    out[o++] = CODE[n & 63]!;
  }
  const rest = bytes.length - whole;
  if (rest > 0) {
    const n = (bytes[whole]! << 16) | (rest === 2 ? bytes[whole + 1]! << 8 : 0);
    out[o++] = CODE[n >> 18]!;
    out[o++] = CODE[(n >> 12) & 63]!;
    out[o++] = rest === 2 ? CODE[(n >> 6) & 63]! : 61;
    out[o++] = 61;
  }
  return ascii.decode(out);
}

/**
 * Bytes of standard or URL-safe base64, padded or not (verifiers must accept both, says the
 * spec); null for anything else (a stray character, a length no encoding produces, bad padding).
 */
export function base64Decode(text: string): Uint8Array | null {
  let len = text.length;
  if (len % 4 === 0 && len > 0 && text.charCodeAt(len - 1) === 61) len -= text.charCodeAt(len - 2) === 61 ? 2 : 1;
  if (len % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? SEXTET[c]! : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** The envelope's JSON bytes, fields in the spec's order. */
export function encodeEnvelope(envelope: DsseEnvelope): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      payloadType: envelope.payloadType,
      payload: envelope.payload,
      signatures: envelope.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })),
    }),
  );
}

function fail(field: string, message: string): EnvelopeDecoding {
  return { ok: false, field, message: `${field}: ${message}` };
}

/**
 * Decodes a JSON envelope from its bytes (or text). Required: `payloadType` (a string),
 * `payload` (base64), `signatures` (an array of `{sig: base64, keyid?: string}`; an absent keyid
 * reads as empty, as the spec says). Unknown fields are ignored. Never throws: a failure names
 * the field (`body` when the bytes are not a JSON object).
 */
export function decodeEnvelope(input: Uint8Array | string): EnvelopeDecoding {
  let value: unknown;
  try {
    value = JSON.parse(typeof input === 'string' ? input : decoder.decode(input));
  } catch {
    return fail('body', 'is not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('body', 'is not a JSON object');
  const record = value as Record<string, unknown>;
  const payloadType = record['payloadType'];
  if (typeof payloadType !== 'string') return fail('payloadType', 'must be a string');
  const payload = record['payload'];
  const body = typeof payload === 'string' ? base64Decode(payload) : null;
  if (body === null) return fail('payload', 'must be base64');
  const list = record['signatures'];
  if (!Array.isArray(list)) return fail('signatures', 'must be an array');
  const signatures: DecodedEnvelope['signatures'] = [];
  for (let i = 0; i < list.length; i++) {
    const s = list[i] as Record<string, unknown> | null;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return fail(`signatures[${i}]`, 'must be an object');
    const keyid = s['keyid'] ?? '';
    if (typeof keyid !== 'string') return fail(`signatures[${i}].keyid`, 'must be a string');
    const sig = typeof s['sig'] === 'string' ? base64Decode(s['sig']) : null;
    if (sig === null) return fail(`signatures[${i}].sig`, 'must be base64');
    signatures.push({ keyid, sig });
  }
  return { ok: true, envelope: { payloadType, body, signatures } };
}
