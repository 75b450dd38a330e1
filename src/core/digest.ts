/**
 * Canonical JSON and the payload digest that endorsers sign. Pure: SHA-256 comes from
 * `@noble/hashes` (audited, no node:*), so the digest is the same in the sidecar, in a
 * browser and in any offline verifier.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

const encoder = new TextEncoder();

/**
 * Serialises a JSON value canonically: object keys sorted by UTF-16 code unit, no whitespace,
 * numbers and strings as `JSON.stringify` writes them. For JSON data (what `JSON.parse`
 * returns) this matches RFC 8785 (JCS). Object members whose value is `undefined` are
 * omitted, as `JSON.stringify` does.
 *
 * Throws a `TypeError` on values JSON cannot hold (non-finite numbers, bigint, functions,
 * symbols, cycles): two peers could not agree on their bytes.
 */
export function canonicalJson(value: unknown): string {
  return write(value, new Set());
}

function write(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${String(value)}`);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: ${typeof value} is not JSON`);
  }
  const obj = value as object;
  if (seen.has(obj)) throw new TypeError('canonicalJson: cycle');
  seen.add(obj);
  let out: string;
  if (Array.isArray(obj)) {
    // Arrays keep `undefined` slots as null, like JSON.stringify.
    out = `[${obj.map((v: unknown) => (v === undefined ? 'null' : write(v, seen))).join(',')}]`;
  } else {
    const record = obj as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    out = `{${keys.map((k) => `${JSON.stringify(k)}:${write(record[k], seen)}`).join(',')}}`;
  }
  seen.delete(obj);
  return out;
}

/** Lower-case hex SHA-256 of `bytes` (64 characters). */
export function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

/**
 * The payload digest: lower-case hex SHA-256 of the canonical JSON of `payload`. Two peers
 * holding the same payload with keys in a different order compute the same digest.
 */
export function payloadDigest(payload: unknown): string {
  return sha256Hex(encoder.encode(canonicalJson(payload)));
}
