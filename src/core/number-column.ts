/**
 * Columns of numbers (the `ts` and `v` arrays of a telemetry series), checked by one loop
 * instead of a zod schema per element. The rules are those of `z.array(element).min(1).max(n)`
 * with `element` `z.number().int().nonnegative()` (ms since epoch) or `z.number()` (finite), and a
 * unit test holds the two equal. Per-element zod cost about 0.5 ms per 1,000-point batch, half
 * of a scout's ingest; the loop costs a few microseconds.
 */
import { z } from 'zod';

/** What every element of a column must be. */
export type NumberColumnElement =
  /** A safe integer ≥ 0 (what `z.number().int().nonnegative()` accepts). */
  | 'ms-since-epoch'
  /** A finite number (what `z.number()` accepts). */
  | 'finite';

/** What the refusal of an element says it must be, per kind (shared by both wire forms). */
export const EXPECTED: Record<NumberColumnElement, string> = {
  'ms-since-epoch': 'an integer ms since epoch (0 to 2^53-1)',
  finite: 'a finite number',
};

// One loop per element kind rather than one loop calling a predicate: a monomorphic loop is
// inlined and reads the doubles unboxed (8 µs per 1,000 elements with a predicate, 1 µs without).
function firstBadMs(column: readonly unknown[]): number {
  for (let i = 0; i < column.length; i++) {
    const x = column[i];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) return i;
  }
  return -1;
}

function firstBadFinite(column: readonly unknown[]): number {
  for (let i = 0; i < column.length; i++) {
    const x = column[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) return i;
  }
  return -1;
}

/**
 * A zod schema for an array of `minItems..maxItems` numbers of kind `element`. The value is
 * passed through, not copied. On failure it reports one issue: for the array (not an array,
 * wrong length), or for the first bad element, with the element's index as path, so a decode
 * error reads `series.0.ts.17: must be an integer ms since epoch (0 to 2^53-1)`.
 */
export function numberColumn(element: NumberColumnElement, minItems: number, maxItems: number): z.ZodType<number[]> {
  const expected = EXPECTED[element];
  const firstBad = element === 'finite' ? firstBadFinite : firstBadMs;
  return z.custom<number[]>().check((payload) => {
    const column: unknown = payload.value;
    if (!Array.isArray(column)) {
      payload.issues.push({
        code: 'custom',
        message: `must be an array of numbers, received ${kindOf(column)}`,
        input: column,
      });
      return;
    }
    if (column.length < minItems || column.length > maxItems) {
      payload.issues.push({
        code: 'custom',
        message: `must hold ${minItems} to ${maxItems} items, holds ${column.length}`,
        input: column,
      });
      return;
    }
    const i = firstBad(column);
    if (i >= 0)
      payload.issues.push({
        code: 'custom',
        message: `must be ${expected}, received ${kindOf(column[i])}`,
        input: column[i],
        path: [i],
      });
  });
}

/** Type or class of a refused value, never the value itself (decode errors must not echo payload data). */
export function kindOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (typeof x === 'number')
    return Number.isInteger(x) ? 'an integer out of range' : Number.isFinite(x) ? 'a fraction' : 'a non-finite number';
  return typeof x;
}
