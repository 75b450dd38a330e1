/**
 * The bytes of a JetStream publish written by hand, so that the commit path's hot path allocates
 * no header object and parses no JSON for an ordinary PubAck. Both produce exactly what nats.js
 * would: {@link HeaderBlocks} the header block `MsgHdrsImpl.encode()` writes for the same
 * headers, and {@link readPubAck} the fields `JSON.parse` would read, or null for anything it does
 * not recognise (an API error, an escape, a field it does not know), which the caller then parses
 * in full.
 */
import type { MsgHdrs } from 'nats';

/** Headers whose encoding is already done: nats.js calls `encode()` once per publish and nothing else. */
export class EncodedHeaders {
  bytes: Uint8Array = new Uint8Array(0);

  /** The one method nats.js 2.x's `publish()` calls on its `headers` option (checked with 2.29.3). */
  encode(): Uint8Array {
    return this.bytes;
  }

  /** This object in the type `publish()` takes. */
  asHeaders(): MsgHdrs {
    return this as unknown as MsgHdrs;
  }
}

const SLAB_BYTES = 256 * 1024;
const MSG_ID = 'Nats-Msg-Id';

/**
 * Header blocks written into a shared slab, one view each: `NATS/1.0`, `Nats-Msg-Id` first (unless
 * `headers` carries its own, which then takes its place, as `MsgHdrsImpl.set` does), then `headers`
 * in their order, each value trimmed as nats.js does. The slab is never rewound: nats.js holds the
 * views until it flushes, so a full slab is replaced, not reused.
 */
export class HeaderBlocks {
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private used = 0;

  encode(msgId: string, headers: Readonly<Record<string, string>>): Uint8Array {
    let s = headers[MSG_ID] === undefined ? `NATS/1.0\r\n${MSG_ID}: ${msgId.trim()}` : 'NATS/1.0';
    for (const k in headers) s = `${s}\r\n${k}: ${headers[k]!.trim()}`;
    s = `${s}\r\n\r\n`;
    // A UTF-16 unit is at most 3 UTF-8 bytes.
    if (this.slab.length - this.used < s.length * 3) {
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, s.length * 3));
      this.used = 0;
    }
    const n = this.slab.write(s, this.used);
    const view = this.slab.subarray(this.used, this.used + n);
    this.used += n;
    return view;
  }
}

/** An ordinary PubAck. */
export interface PubAckFields {
  stream: string;
  seq: number;
  duplicate: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = 0x7b;
const CLOSE = 0x7d;

/**
 * Reads a PubAck of the shape nats-server writes (`{"stream":"S", "seq":N}`, with `"domain"` and
 * `"duplicate": true` when they apply; whitespace anywhere between tokens). Null for anything
 * else (an `error`, an escape, a non-ASCII name, another field), which the caller parses with
 * `JSON.parse`. `names` keeps the last stream name decoded, so a run of PubAcks decodes it once.
 */
export function readPubAck(b: Uint8Array, names: StreamNames): PubAckFields | null {
  let i = skip(b, 0);
  if (b[i] !== OPEN) return null;
  let stream: string | null = null;
  let seq = -1;
  let duplicate = false;
  i = skip(b, i + 1);
  while (i < b.length) {
    // "key":
    if (b[i] !== QUOTE) return null;
    const keyStart = i + 1;
    const keyEnd = b.indexOf(QUOTE, keyStart);
    if (keyEnd < 0) return null;
    i = skip(b, keyEnd + 1);
    if (b[i] !== COLON) return null;
    i = skip(b, i + 1);
    const key = keyOf(b, keyStart, keyEnd);
    if (key === 'stream' || key === 'domain') {
      if (b[i] !== QUOTE) return null;
      const end = b.indexOf(QUOTE, i + 1);
      if (end < 0) return null;
      for (let j = i + 1; j < end; j++) if (b[j]! >= 0x80 || b[j] === BACKSLASH) return null;
      if (key === 'stream') stream = names.decode(b, i + 1, end);
      i = end + 1;
    } else if (key === 'seq') {
      let v = 0;
      const start = i;
      while (i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39) v = v * 10 + (b[i++]! - 0x30);
      if (i === start || !Number.isSafeInteger(v)) return null;
      seq = v;
    } else if (key === 'duplicate') {
      if (b[i] === 0x74 && b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65) {
        duplicate = true;
        i += 4;
      } else if (b[i] === 0x66 && b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65) {
        i += 5;
      } else return null;
    } else return null;
    i = skip(b, i);
    if (b[i] === COMMA) {
      i = skip(b, i + 1);
      continue;
    }
    if (b[i] !== CLOSE || skip(b, i + 1) !== b.length) return null;
    if (stream === null || stream === '' || seq < 0) return null;
    return { stream, seq, duplicate };
  }
  return null;
}

function skip(b: Uint8Array, i: number): number {
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  return i;
}

const KEYS = ['stream', 'seq', 'domain', 'duplicate'] as const;
const KEY_BYTES = KEYS.map((k) => new TextEncoder().encode(k));

// The four keys a PubAck carries, matched without decoding; anything else is null.
function keyOf(b: Uint8Array, start: number, end: number): (typeof KEYS)[number] | null {
  next: for (let k = 0; k < KEYS.length; k++) {
    const key = KEY_BYTES[k]!;
    if (key.length !== end - start) continue;
    for (let j = 0; j < key.length; j++) if (b[start + j] !== key[j]) continue next;
    return KEYS[k]!;
  }
  return null;
}

/** The last stream name seen in a PubAck, reused while the bytes match. */
export class StreamNames {
  private bytes = new Uint8Array(0);
  private name = '';

  decode(b: Uint8Array, start: number, end: number): string {
    const len = end - start;
    if (len === this.bytes.length) {
      let same = true;
      for (let j = 0; j < len; j++)
        if (b[start + j] !== this.bytes[j]) {
          same = false;
          break;
        }
      if (same) return this.name;
    }
    this.bytes = b.slice(start, end);
    this.name = String.fromCharCode(...this.bytes);
    return this.name;
  }
}
