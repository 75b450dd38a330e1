/**
 * The packed wire form of a telemetry column (`tsB64`, `vB64`): canonical base64 (RFC 4648 §4,
 * padded) of the column's IEEE 754 float64s, little-endian, 8 bytes per point. Decoded columns are
 * `Float64Array`s, whichever wire form arrived.
 *
 * Why this form, measured on the benchmark's batch (bench/telemetry.ts: 1,000 points, Node 20,
 * x86-64): `decodeEnvelope` took 145 µs with the columns as JSON arrays, 126 µs of it in
 * JSON.parse (13-digit timestamps, 17-digit decimals); packed, it takes 35-40 µs (the JSON
 * parses in 10 µs; base64 decode, canonical check and the element loops are a few µs per
 * column), and the batch shrinks from 31.8 KB to 21.6 KB. Timestamps as zig-zag varint deltas
 * would shrink it to 12.3 KB, but decode 7 µs slower (a loop per byte instead of a view on the
 * bytes) and need a second format with its own canonical-form rules; gossip throughput on the
 * benchmark did not depend on the size in this range (raw receive 1,329 msg/s at 31.8 KB,
 * 1,324 at 21.6 KB), so the simpler form won. Floats also keep every value exact: a timestamp
 * is an integer below 2^53.
 *
 * Decoding is as strict as the array form (`number-column.ts`): the same element rules and
 * messages, with the index of the first bad point, plus refusals of base64 that is not canonical
 * (other alphabets, missing padding, stray characters or non-zero trailing bits) and of byte
 * lengths that are not a multiple of 8. NaN and ±Infinity never pass: their bit patterns decode
 * to non-finite numbers and are refused like any other bad element.
 */
import { z } from 'zod';
import { EXPECTED, kindOf, type NumberColumnElement } from './number-column.js';

// Buffer is a Node global (no import, no I/O). On a 1,000-point column its native base64 decode
// plus the re-encode that checks canonical form take 5-6 µs; atob plus a loop over the binary
// string takes 20-25 µs without any check.

/** True on little-endian hosts (x86, ARM as Node runs it), where the bytes can be viewed in place. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/**
 * The float64s of `bytes` (little-endian, `bytes.length` a multiple of 8). On a little-endian
 * host this is a view on the same memory when it is 8-byte aligned (a copy otherwise: a Buffer
 * from the shared pool may start at any offset); a big-endian host reads through a DataView.
 */
export function float64sFromLE(bytes: Uint8Array, hostLittleEndian: boolean = HOST_LITTLE_ENDIAN): Float64Array {
  const n = bytes.length / 8;
  if (hostLittleEndian) {
    if (bytes.byteOffset % 8 === 0) return new Float64Array(bytes.buffer, bytes.byteOffset, n);
    const out = new Float64Array(n);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/** Canonical base64 of `column`'s float64s, little-endian: what `tsB64` and `vB64` carry. */
export function packFloat64(column: Float64Array, hostLittleEndian: boolean = HOST_LITTLE_ENDIAN): string {
  if (hostLittleEndian) return Buffer.from(column.buffer, column.byteOffset, column.byteLength).toString('base64');
  const bytes = Buffer.alloc(column.byteLength);
  for (let i = 0; i < column.length; i++) bytes.writeDoubleLE(column[i]!, i * 8);
  return bytes.toString('base64');
}

// Monomorphic loops, as in number-column.ts; a Float64Array holds numbers only, so no typeof.
function firstBadMs(column: Float64Array): number {
  for (let i = 0; i < column.length; i++) {
    const x = column[i]!;
    if (!Number.isSafeInteger(x) || x < 0) return i;
  }
  return -1;
}

function firstBadFinite(column: Float64Array): number {
  for (let i = 0; i < column.length; i++) if (!Number.isFinite(column[i]!)) return i;
  return -1;
}

type Issue = { message: string; path?: number[] };

// Why `column` breaks the rules of a column of `minItems..maxItems` elements of kind `element`, or null.
function columnIssue(
  column: Float64Array,
  element: NumberColumnElement,
  minItems: number,
  maxItems: number,
): Issue | null {
  if (column.length < minItems || column.length > maxItems)
    return { message: `must hold ${minItems} to ${maxItems} items, holds ${column.length}` };
  const i = element === 'finite' ? firstBadFinite(column) : firstBadMs(column);
  return i < 0 ? null : { message: `must be ${EXPECTED[element]}, received ${kindOf(column[i])}`, path: [i] };
}

/**
 * A zod schema for a packed column on the wire (`tsB64`, `vB64`): a base64 string in, a
 * `Float64Array` of `minItems..maxItems` elements of kind `element` out. On failure it reports
 * one issue, for the string (not a string, not canonical base64, not whole float64s, wrong
 * length) or for the first bad element with its index as path:
 * `series.0.vB64.17: must be a finite number, received a non-finite number`.
 */
export function packedColumn(
  element: NumberColumnElement,
  minItems: number,
  maxItems: number,
): z.ZodType<Float64Array> {
  return z.unknown().transform((text, ctx) => {
    const refuse = (issue: Issue): never => {
      ctx.issues.push({ code: 'custom', input: text, ...issue });
      return z.NEVER;
    };
    if (typeof text !== 'string') return refuse({ message: `must be a base64 string, received ${kindOf(text)}` });
    const bytes = Buffer.from(text, 'base64');
    // Buffer's decoder skips characters outside the alphabet and accepts base64url and missing
    // padding; re-encoding gives back the input only when it was canonical.
    if (bytes.toString('base64') !== text)
      return refuse({ message: 'must be canonical base64 (A-Z a-z 0-9 + /, padded with =)' });
    if (bytes.length % 8 !== 0)
      return refuse({ message: `must be whole 8-byte float64s, holds ${bytes.length} bytes` });
    const column = float64sFromLE(bytes);
    const issue = columnIssue(column, element, minItems, maxItems);
    return issue === null ? column : refuse(issue);
  });
}

/**
 * A zod schema for a column in memory (a `Float64Array`, as the emitter builds it) by the same
 * rules, so that `encodeEnvelope` refuses what every receiver would refuse. Passed through, not copied.
 */
export function float64Column(
  element: NumberColumnElement,
  minItems: number,
  maxItems: number,
): z.ZodType<Float64Array> {
  return z.custom<Float64Array>().check((payload) => {
    const column: unknown = payload.value;
    if (!(column instanceof Float64Array)) {
      payload.issues.push({
        code: 'custom',
        message: `must be a Float64Array, received ${kindOf(column)}`,
        input: column,
      });
      return;
    }
    const issue = columnIssue(column, element, minItems, maxItems);
    if (issue !== null)
      payload.issues.push({
        code: 'custom',
        input: issue.path === undefined ? column : column[issue.path[0]!],
        ...issue,
      });
  });
}
