/**
 * Idempotency keys (IETF httpapi draft, `Idempotency-Key`): an agent names an intent, and a
 * retry with the same key, to the same sidecar or another one of the mesh, is the same intent.
 * The correlation ID is derived from the key, so every sidecar computes the same one without
 * asking anybody: the outbox's unique ID absorbs a retry here, endorsers that hold the intent
 * answer a re-proposal with its commit, and the stream dedupes on the same `Nats-Msg-Id`.
 * See docs/exactly-once.md.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { NetSyncError } from './errors.js';
import { payloadDigest } from './digest.js';

/** 1–255 visible ASCII characters. */
const KEY = /^[\x21-\x7e]{1,255}$/;
// Crockford's base32, as ULIDs are written.
const BASE32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Validates a key; throws INPUT_INVALID naming `idempotency-key`. */
export function checkIdempotencyKey(key: unknown): string {
  if (typeof key !== 'string' || !KEY.test(key)) {
    throw new NetSyncError('INPUT_INVALID', 'idempotency-key: must be 1-255 visible ASCII characters', {
      field: 'idempotency-key',
    });
  }
  return key;
}

/**
 * The correlation ID of a keyed intent: a valid ULID string (so every consumer's format check
 * holds), `0` then 125 bits of SHA-256 of the key. Its "time" part is hash bits: never read a
 * time from a keyed ID.
 */
export function keyedCorrelationId(key: string): string {
  const digest = sha256(encoder.encode(`net-sync idempotency-key\n${key}`));
  let out = '0';
  let acc = 0;
  let bits = 0;
  for (const byte of digest) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      out += BASE32[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
    if (out.length === 26) break;
  }
  return out;
}

/**
 * Throws IDEMPOTENCY_CONFLICT (422 naming `idempotency-key`) unless the stored command `body`
 * carries the same subject and payload as this request.
 */
export function assertSameIntent(body: Uint8Array, subject: string, payload: unknown): void {
  let stored: { subject?: unknown; payload?: unknown; payloadRef?: { digest?: unknown } };
  try {
    stored = JSON.parse(decoder.decode(body)) as typeof stored;
  } catch {
    stored = {};
  }
  let same = false;
  try {
    // A payload stored by reference is compared by its digest (the same canonical JSON digest).
    const storedDigest = stored.payloadRef === undefined ? payloadDigest(stored.payload) : stored.payloadRef.digest;
    same = stored.subject === subject && storedDigest === payloadDigest(payload);
  } catch {
    same = false; // not a command body we can read: not this intent
  }
  if (!same) {
    throw new NetSyncError(
      'IDEMPOTENCY_CONFLICT',
      'idempotency-key: already used for an intent with another subject or payload',
      { field: 'idempotency-key' },
    );
  }
}
