/**
 * An HTTP body parsed as JSON without silent changes: invalid UTF-8 (which a lenient decoder would
 * turn into U+FFFD), numbers a double cannot hold (`1e400` would become `null` once re-encoded,
 * `9007199254740993` would lose its last digit, `1e-400` would become 0) and `__proto__` or
 * `constructor.prototype` keys are refused with INPUT_INVALID naming the field, e.g. `payload.n`.
 */
import { NetSyncError } from './errors.js';

function invalid(field: string, message: string): NetSyncError {
  return new NetSyncError('INPUT_INVALID', `${field}: ${message}`, { field });
}

/** Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const c = bytes[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    const need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (need === 0 || i + need >= n) return i; // not a lead byte, or cut short by the end
    const c1 = bytes[i + 1] as number;
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if (
      (c === 0xe0 && c1 < 0xa0) ||
      (c === 0xed && c1 > 0x9f) ||
      (c === 0xf0 && c1 < 0x90) ||
      (c === 0xf4 && c1 > 0x8f)
    )
      return i;
    for (let k = 1; k <= need; k++) if (((bytes[i + k] as number) & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}

/** One open object or array while the text is walked. */
interface Frame {
  array: boolean;
  /** Current key (object) once read. */
  key: string | undefined;
  /** Current index (array). */
  index: number;
  /** Object: the next string is a key. */
  expectKey: boolean;
}

const SIMPLE_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** A body key as a field name: itself when plain, else quoted (`["we ird"]`, `[""]`), at most 64 characters. */
export function keyField(key: string): string {
  return SIMPLE_KEY.test(key) && key.length <= 64 ? key : `[${JSON.stringify(key.slice(0, 64))}]`;
}

/** `payload.a[3]` for the frames' current positions; `body` at the top level. */
function pathOf(frames: readonly Frame[], depth = frames.length): string {
  let out = '';
  for (let d = 0; d < depth; d++) {
    const f = frames[d] as Frame;
    if (f.array) out += `[${f.index}]`;
    else if (f.key === undefined) break;
    else {
      const name = keyField(f.key);
      out += out === '' || name.startsWith('[') ? name : `.${name}`;
    }
  }
  return out === '' ? 'body' : out;
}

const INTEGER = /^-?\d+$/;
const NONZERO_MANTISSA = /^-?0*\.?0*[1-9]/;

/** Why a number literal cannot be held exactly enough by a double, or null. */
function numberProblem(literal: string): string | null {
  const v = Number(literal);
  const shown = literal.length > 40 ? `${literal.slice(0, 40)}…` : literal;
  if (!Number.isFinite(v)) return `${shown} is out of range: a JSON number must fit a double (at most ±1.8e308)`;
  if (v === 0 && NONZERO_MANTISSA.test(literal.split(/[eE]/, 1)[0] as string))
    return `${shown} is too small: it would round to 0 (a double holds down to ±5e-324)`;
  // Past 2^53 only some integers are doubles: 1e20 written out in full is kept, 2^53 + 1 is not.
  if (INTEGER.test(literal) && !Number.isSafeInteger(v) && BigInt(literal) !== BigInt(v))
    return `${shown} is an integer a double cannot hold exactly (it would become ${BigInt(v)}); send it as a string`;
  return null;
}

/** End (exclusive) of the string literal opening at `start`; -1 when the text ends inside it. */
function stringEnd(text: string, start: number): number {
  // Native search for the next quote; it closes the string unless an odd run of backslashes escapes it.
  for (let j = start + 1; ; ) {
    const q = text.indexOf('"', j);
    if (q < 0) return -1;
    let b = q - 1;
    while (text.charCodeAt(b) === 92) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** UTF-8 length of `text` (well-formed UTF-16; a lone surrogate counts 3, as TextEncoder writes U+FFFD). */
export function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 2 code units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

const payloadBytesOf = new WeakMap<object, Uint8Array>();

/**
 * The bytes of a body's top-level `payload` value, when `parseJsonBody` found them already in
 * canonical JSON (compact, keys sorted, strings and numbers as JSON.stringify writes them): the
 * object a payload by reference is stored as, taken from the request without serialising it again.
 */
export function canonicalPayloadBytes(body: object): Uint8Array | undefined {
  return payloadBytesOf.get(body);
}

/** The top-level `payload` value's text span, and whether it is canonical JSON. */
interface PayloadSpan {
  start: number;
  end: number;
  canonical: boolean;
  /** Inside the span: the previous key of each open object, to check the order. */
  keys: Array<string | undefined>;
}

const WHITESPACE = /[ \t\n\r]/;

function keyProblem(frames: readonly Frame[], key: string): string | null {
  if (key === '__proto__')
    return 'key "__proto__" is not accepted (it would set the prototype of objects built from it)';
  const parent = frames[frames.length - 2];
  if (key === 'prototype' && parent !== undefined && !parent.array && parent.key === 'constructor')
    return 'key "constructor.prototype" is not accepted (it would reach the prototype of objects built from it)';
  return null;
}

/** What a walk found: a problem at a path, or (for a prefix) the path of the value left open. */
type WalkResult = { problem: { field: string; message: string } } | { openPath: string };

/**
 * Walks JSON text (valid, or a valid prefix) keeping the path of the current value. With `span`,
 * also finds the top-level `payload` value's span and whether it is canonical JSON.
 */
function walk(text: string, span?: PayloadSpan): WalkResult {
  const frames: Frame[] = [];
  let i = 0;
  // The span is open while frames.length > 1, or at the payload's own primitive value.
  const atPayload = (): boolean => {
    const top = frames[0];
    return (
      span !== undefined &&
      span.start < 0 &&
      frames.length === 1 &&
      top !== undefined &&
      !top.array &&
      !top.expectKey &&
      top.key === 'payload'
    );
  };
  const inSpan = (): boolean => span !== undefined && span.start >= 0 && span.end < 0;
  while (i < text.length) {
    const ch = text[i] as string;
    const top = frames[frames.length - 1];
    if (ch === '{' || ch === '[') {
      if (atPayload()) span!.start = i;
      frames.push({ array: ch === '[', key: undefined, index: 0, expectKey: ch === '{' });
      if (inSpan()) span!.keys.push(undefined);
      i++;
    } else if (ch === '}' || ch === ']') {
      frames.pop();
      if (inSpan()) {
        span!.keys.pop();
        if (frames.length === 1) span!.end = i + 1;
      }
      i++;
    } else if (ch === ',') {
      if (top?.array === true) top.index++;
      else if (top !== undefined) top.expectKey = true;
      i++;
    } else if (ch === ':') {
      if (top !== undefined) top.expectKey = false;
      i++;
    } else if (ch === '"') {
      const end = stringEnd(text, i);
      const isKey = top !== undefined && !top.array && top.expectKey;
      if (end < 0) return { openPath: pathOf(frames, isKey ? frames.length - 1 : frames.length) };
      const primitive = atPayload();
      if (primitive) span!.start = i;
      if (isKey) {
        top.key = JSON.parse(text.slice(i, end)) as string;
        const problem = keyProblem(frames, top.key);
        if (problem !== null) return { problem: { field: pathOf(frames), message: problem } };
        // A second top-level `payload`: JSON.parse keeps the last, the span is the first.
        if (span !== undefined && frames.length === 1 && top.key === 'payload' && span.start >= 0)
          span.canonical = false;
      }
      if (inSpan()) {
        const literal = text.slice(i, end);
        // Without a backslash a literal is as JSON.stringify writes it; with one, compare.
        if (literal.includes('\\') && JSON.stringify(JSON.parse(literal)) !== literal) span!.canonical = false;
        if (isKey) {
          const keys = span!.keys;
          const previous = keys[keys.length - 1];
          if (previous !== undefined && !(previous < (top.key as string))) span!.canonical = false;
          keys[keys.length - 1] = top.key as string;
        }
      }
      if (primitive) span!.end = end;
      i = end;
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      let j = i + 1;
      while (j < text.length && /[0-9eE.+-]/.test(text[j] as string)) j++;
      const literal = text.slice(i, j);
      const problem = numberProblem(literal);
      if (problem !== null) return { problem: { field: pathOf(frames), message: problem } };
      const primitive = atPayload();
      if (primitive) span!.start = i;
      if (inSpan() && String(Number(literal)) !== literal) span!.canonical = false;
      if (primitive) span!.end = j;
      i = j;
    } else if (ch === 't' || ch === 'f' || ch === 'n') {
      const j = i + (ch === 'f' ? 5 : 4); // true, false, null (the text is JSON)
      if (atPayload()) {
        span!.start = i;
        span!.end = j;
      }
      i = j;
    } else {
      if (inSpan() && WHITESPACE.test(ch)) span!.canonical = false;
      i++; // whitespace
    }
  }
  return { openPath: pathOf(frames) };
}

const lenient = new TextDecoder('utf-8');

/** The value the bad byte at `at` sits in, read from the valid text before it; `body` when unclear. */
function utf8Field(bytes: Uint8Array, at: number): string {
  try {
    const open = walk(lenient.decode(bytes.subarray(0, Math.max(0, at))));
    return 'openPath' in open ? open.openPath : 'body';
  } catch {
    return 'body'; // the prefix is not JSON either (a bad byte outside any string)
  }
}

const strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a request body as JSON. Throws INPUT_INVALID naming the field: `body` when it is empty
 * or not JSON; the value's path (e.g. `payload.note`) for invalid UTF-8 inside it, a number a
 * double cannot hold, or a `__proto__` / `constructor.prototype` key.
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw invalid('body', 'is empty: send a JSON object');
  let text: string;
  try {
    text = strict.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw invalid(
      utf8Field(bytes, at),
      `is not valid UTF-8 (byte ${at} of the body); send text as UTF-8, binary as base64`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalid('body', `is not valid JSON (${(err as Error).message})`);
  }
  const span: PayloadSpan = { start: -1, end: -1, canonical: true, keys: [] };
  const result = walk(text, span);
  if ('problem' in result) throw invalid(result.problem.field, result.problem.message);
  if (span.canonical && span.start >= 0 && span.end > span.start && typeof value === 'object' && value !== null) {
    // Byte offsets from the (short) text around the payload: the subject and the braces.
    const start = utf8Length(text.slice(0, span.start));
    const end = bytes.length - utf8Length(text.slice(span.end));
    payloadBytesOf.set(value, bytes.subarray(start, end));
  }
  return value;
}
