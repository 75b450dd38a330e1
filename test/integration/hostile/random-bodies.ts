/**
 * Random request bodies for `POST /v1/intents` from a seeded generator: valid intents with random
 * payloads, wrong types, unknown and prototype keys, deep nesting, numbers a double cannot hold,
 * and JSON text whose bytes were mutated (invalid JSON, invalid UTF-8).
 */

/** One generated body. */
export interface RandomBody {
  bytes: Uint8Array;
  /** An `Idempotency-Key` header, sometimes invalid. */
  idempotencyKey?: string;
}

type Rnd = () => number;

const SUBJECT = 'root.solar.command.hostile.probe';
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '"',
  '\\',
  '\u2028',
  'é€😀',
  '\ud800',
  '__proto__',
  'constructor',
  '<script>',
];
const NASTY_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  '',
  'toString',
  'hasOwnProperty',
  '0',
  'a.b',
  'x'.repeat(300),
];

const pick = <T>(rnd: Rnd, items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
const int = (rnd: Rnd, n: number): number => Math.floor(rnd() * n);

function randomString(rnd: Rnd): string {
  if (rnd() < 0.2) return pick(rnd, NASTY_STRINGS);
  let s = '';
  const n = int(rnd, 12);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    s += String.fromCodePoint(r < 0.7 ? 32 + int(rnd, 95) : r < 0.9 ? 160 + int(rnd, 2_000) : 0x1f600 + int(rnd, 80));
  }
  return s;
}

function randomNumber(rnd: Rnd): number {
  const r = rnd();
  if (r < 0.4) return int(rnd, 1_000) - 500;
  if (r < 0.7) return (rnd() - 0.5) * 10 ** int(rnd, 300);
  if (r < 0.85) return Number.MAX_SAFE_INTEGER - int(rnd, 3);
  return rnd();
}

function randomValue(rnd: Rnd, depth: number): unknown {
  const r = rnd();
  if (depth <= 0 || r < 0.35) {
    const s = rnd();
    return s < 0.2 ? null : s < 0.35 ? rnd() < 0.5 : s < 0.7 ? randomNumber(rnd) : randomString(rnd);
  }
  if (r < 0.6) return Array.from({ length: int(rnd, 5) }, () => randomValue(rnd, depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = int(rnd, 5); i > 0; i--) {
    // Own property "__proto__" can only be made with defineProperty; JSON.stringify writes it.
    const key = rnd() < 0.05 ? pick(rnd, NASTY_KEYS) : randomString(rnd);
    Object.defineProperty(o, key, { value: randomValue(rnd, depth - 1), enumerable: true, writable: true });
  }
  return o;
}

function nested(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

const encoder = new TextEncoder();

function mutate(rnd: Rnd, bytes: Uint8Array): Uint8Array {
  const out = [...bytes];
  for (let m = 1 + int(rnd, 3); m > 0; m--) {
    const at = int(rnd, out.length + 1);
    const r = rnd();
    const byte = rnd() < 0.5 ? 0x80 + int(rnd, 128) : int(rnd, 128);
    if (r < 0.4) out.splice(at, 0, byte);
    else if (r < 0.7) out.splice(at, 1);
    else out[Math.min(at, out.length - 1)] = byte;
  }
  return new Uint8Array(out);
}

function idempotencyKey(rnd: Rnd, i: number): string | undefined {
  const r = rnd();
  if (r < 0.8) return undefined;
  if (r < 0.95) return `hostile-${i}-${int(rnd, 1e9)}`;
  return pick(rnd, ['', ' ', 'x'.repeat(300), 'k\u00e9y', 'a\tb']);
}

/** Body `i` of the sequence seeded by `rnd`. */
export function randomBody(rnd: Rnd, i: number): RandomBody {
  const key = idempotencyKey(rnd, i);
  const withKey = (b: RandomBody): RandomBody => (key === undefined ? b : { ...b, idempotencyKey: key });
  const r = rnd();
  if (r < 0.45) {
    const text = JSON.stringify({ subject: SUBJECT, payload: randomValue(rnd, 1 + int(rnd, 6)) });
    return withKey({ bytes: encoder.encode(text) });
  }
  if (r < 0.6) {
    const body = rnd() < 0.5 ? randomValue(rnd, 3) : { subject: randomValue(rnd, 1), payload: randomValue(rnd, 2) };
    if (rnd() < 0.3 && typeof body === 'object' && body !== null)
      Object.defineProperty(body, randomString(rnd), { value: 1, enumerable: true });
    return withKey({ bytes: encoder.encode(JSON.stringify(body) ?? 'undefined') });
  }
  if (r < 0.7) {
    const literal = pick(rnd, ['1e400', '-1e400', '1e-400', '9007199254740993', '-123456789012345678901234567890']);
    return withKey({ bytes: encoder.encode(`{"subject":"${SUBJECT}","payload":{"n":[1,${literal}]}}`) });
  }
  if (r < 0.75) {
    return withKey({ bytes: encoder.encode(`{"subject":"${SUBJECT}","payload":${nested(20 + int(rnd, 40))}}`) });
  }
  const base = encoder.encode(JSON.stringify({ subject: SUBJECT, payload: randomValue(rnd, 3) }));
  return withKey({ bytes: mutate(rnd, base) });
}
