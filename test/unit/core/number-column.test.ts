import { describe, expect, test } from 'vitest';
import { decodeEnvelope, encodeEnvelope } from '../../../src/core/envelope-codec.js';
import { MAX_ENVELOPE_DEPTH, MAX_TELEMETRY_POINTS, type TelemetryEnvelope } from '../../../src/core/envelope.js';
import { hasCode } from '../../../src/core/errors.js';
import { numberColumn } from '../../../src/core/number-column.js';
import { seededRandom } from '../../support/seeded-random.js';
import {
  bytesOf,
  decodeMatchesDeclared,
  schemaRefusal,
  T0,
  telemetryWithSeries,
} from '../../support/telemetry-envelopes.js';

/** A telemetry envelope whose first series has columns `ts` and `v` (any JSON, to test refusals). */
const telemetry = (ts: unknown, v: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  telemetryWithSeries({ ts, v, ...extra });
const detailOf = schemaRefusal;

describe('numberColumn', () => {
  const ms = numberColumn('ms-since-epoch', 1, 4);
  const finite = numberColumn('finite', 1, 4);

  test('accepts in-range columns and passes the array through uncopied', () => {
    const column = [0, T0, Number.MAX_SAFE_INTEGER];
    const r = ms.safeParse(column);
    expect(r.success && r.data).toBe(column);
    expect(finite.safeParse([-1.5, 0, 1e300]).success).toBe(true);
  });

  test.each([
    ['not an array', 'x', '(root): must be an array of numbers, received string'],
    ['empty', [], '(root): must hold 1 to 4 items, holds 0'],
    ['too long', [1, 2, 3, 4, 5], '(root): must hold 1 to 4 items, holds 5'],
    ['negative', [1, -1], '1: must be an integer ms since epoch (0 to 2^53-1), received an integer out of range'],
    ['a fraction', [1.5], '0: must be an integer ms since epoch (0 to 2^53-1), received a fraction'],
    ['beyond 2^53', [2 ** 53], '0: must be an integer ms since epoch (0 to 2^53-1), received an integer out of range'],
    ['a string', [1, 2, '3'], '2: must be an integer ms since epoch (0 to 2^53-1), received string'],
    ['null', [null], '0: must be an integer ms since epoch (0 to 2^53-1), received null'],
    ['NaN', [Number.NaN], '0: must be an integer ms since epoch (0 to 2^53-1), received a non-finite number'],
  ])('ms-since-epoch refuses %s, naming the first bad index', (_name, input, expected) => {
    const r = ms.safeParse(input);
    expect(r.success).toBe(false);
    if (!r.success)
      expect(r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)).toEqual([
        expected,
      ]);
  });

  test.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['a boolean', true],
    ['an object', { x: 1 }],
    ['an array', [1]],
    ['undefined (a hole)', undefined],
  ])('finite refuses %s', (_name, bad) => {
    const r = finite.safeParse([1, bad]);
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues[0]?.path).toEqual([1]);
  });
});

// The packed form is in packed-column.test.ts.
describe('telemetry decode: the columns fast path, array form (older origins)', () => {
  test('errors name the field path: series, index, column, element', () => {
    expect(detailOf(telemetry([T0, 'x'], [1, 2]))).toBe(
      'series.0.ts.1: must be an integer ms since epoch (0 to 2^53-1), received string',
    );
    expect(detailOf(telemetry([T0, -5], [1, 2]))).toMatch(/^series\.0\.ts\.1: /);
    expect(detailOf(telemetry([T0, T0 + 0.5], [1, 2]))).toMatch(/^series\.0\.ts\.1: .* received a fraction$/);
    expect(detailOf(telemetry([T0, T0], [1, null]))).toBe('series.0.v.1: must be a finite number, received null');
    expect(detailOf(telemetry([T0, T0], [1, '2']))).toBe('series.0.v.1: must be a finite number, received string');
    expect(detailOf(telemetry([T0, T0], [1, [2]]))).toBe('series.0.v.1: must be a finite number, received array');
    expect(detailOf(telemetry([T0, T0], [1]))).toBe('series.0.v: ts and v differ in length');
    expect(detailOf(telemetry([], []))).toBe(
      'series.0.ts: must hold 1 to 8192 items, holds 0; series.0.v: must hold 1 to 8192 items, holds 0',
    );
    expect(detailOf(telemetry({ 0: T0 }, [1]))).toBe('series.0.ts: must be an array of numbers, received object');
    expect(detailOf(telemetry(undefined, [1]))).toBe('series.0: must carry ts and v, or tsB64 and vB64 (one form)');
  });

  test('at most MAX_TELEMETRY_POINTS per series and per envelope', () => {
    const n = MAX_TELEMETRY_POINTS;
    const full = Array.from({ length: n }, (_, i) => T0 + (i % 1_000));
    expect(decodeEnvelope(bytesOf(telemetry(full, full)), Number.MAX_SAFE_INTEGER)).toMatchObject({ ok: true });
    const over = [...full, T0];
    expect(decodeEnvelope(bytesOf(telemetry(over, over)), Number.MAX_SAFE_INTEGER)).toMatchObject({
      ok: false,
      reason: 'schema',
      detail: expect.stringContaining('series.0.ts: must hold 1 to 8192 items, holds 8193'),
    });
    const half = full.slice(0, n / 2 + 1);
    const two = {
      ...telemetry(half, half),
      series: [0, 1].map((part) => ({ metric: 'm', window: T0, part, ts: half, v: half })),
    };
    expect(decodeEnvelope(bytesOf(two), Number.MAX_SAFE_INTEGER)).toMatchObject({
      ok: false,
      reason: 'schema',
      detail: `series: at most ${n} points in all`,
    });
  });

  test('encode refuses non-finite values with INPUT_INVALID', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      let err: unknown;
      try {
        encodeEnvelope(telemetry(new Float64Array([T0]), new Float64Array([bad])) as TelemetryEnvelope);
      } catch (e) {
        err = e;
      }
      expect(hasCode(err, 'INPUT_INVALID')).toBe(true);
    }
  });

  test('nesting in a column is refused as schema (the depth walk skips columns); elsewhere as too deep', () => {
    const deep = JSON.parse(`${'['.repeat(MAX_ENVELOPE_DEPTH + 5)}1${']'.repeat(MAX_ENVELOPE_DEPTH + 5)}`) as unknown;
    expect(detailOf(telemetry([T0], [deep]))).toBe('series.0.v.0: must be a finite number, received array');
    expect(detailOf(telemetry([deep], [1]))).toBe(
      'series.0.ts.0: must be an integer ms since epoch (0 to 2^53-1), received array',
    );
    expect(detailOf(telemetry([T0], [1], { future: deep }))).toBe(`nesting deeper than ${MAX_ENVELOPE_DEPTH}`);
    expect(detailOf({ ...telemetry([T0], [1]), future: deep })).toBe(`nesting deeper than ${MAX_ENVELOPE_DEPTH}`);
    expect(detailOf({ ...telemetry([T0], [1]), series: [deep] })).toBe(`nesting deeper than ${MAX_ENVELOPE_DEPTH}`);
  });

  test('decode agrees with the declared schema (z.array per element) on valid and mutated envelopes', () => {
    const rnd = seededRandom(4);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const junk: unknown[] = [-1, 0.5, 2 ** 53, -0, '1', null, true, [], {}, 1e308, -1e-300, 0];
    let refused = 0;
    for (let round = 0; round < 500; round++) {
      const n = 1 + Math.floor(rnd() * 6);
      const ts: unknown[] = Array.from({ length: n }, () => T0 + Math.floor(rnd() * 1_000));
      const v: unknown[] = Array.from({ length: n }, () => (rnd() - 0.5) * 1e6);
      const mutation = Math.floor(rnd() * 5);
      if (mutation === 1) ts[Math.floor(rnd() * n)] = pick(junk);
      if (mutation === 2) v[Math.floor(rnd() * n)] = pick(junk);
      if (mutation === 3) (rnd() < 0.5 ? ts : v).push(1);
      if (mutation === 4) (rnd() < 0.5 ? ts : v).splice(0, n);
      const value = telemetry(ts, v);
      if (decodeMatchesDeclared(value, `round ${round}: ${JSON.stringify(value['series'])}`)) refused++;
    }
    expect(refused).toBeGreaterThan(100);
  });
});
