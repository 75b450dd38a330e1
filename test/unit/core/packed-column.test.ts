import { describe, expect, test } from 'vitest';
import { decodeEnvelope, encodeEnvelope } from '../../../src/core/envelope-codec.js';
import { MAX_TELEMETRY_POINTS, type TelemetryEnvelope } from '../../../src/core/envelope.js';
import { float64Column, float64sFromLE, packedColumn, packFloat64 } from '../../../src/core/packed-column.js';
import { seededRandom } from '../../support/seeded-random.js';
import {
  bytesOf,
  decodeMatchesDeclared,
  PEER,
  schemaRefusal,
  T0,
  telemetryWithSeries,
} from '../../support/telemetry-envelopes.js';

const f64 = (xs: readonly number[]): Float64Array => new Float64Array(xs);
const b64 = (xs: readonly number[]): string => packFloat64(f64(xs));
const telemetry = telemetryWithSeries;

function issuesOf(r: {
  success: boolean;
  error?: { issues: Array<{ path: PropertyKey[]; message: string }> };
}): string[] {
  expect(r.success).toBe(false);
  return r.error!.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
}

const detailOf = schemaRefusal;

describe('packFloat64 and float64sFromLE', () => {
  test('little-endian IEEE 754, canonical padded base64 (known vectors)', () => {
    expect(b64([1])).toBe('AAAAAAAA8D8='); // 1.0 = 0x3FF0000000000000, low byte first
    expect(b64([0, 0])).toBe('AAAAAAAAAAAAAAAAAAAAAA==');
    expect(b64([T0 + 1])).toBe('ABCAVv68eEI=');
  });

  test('round trip keeps every bit of finite values, including -0 and subnormals', () => {
    const values = [0, -0, 1.5, -1e308, 5e-324, Number.MAX_SAFE_INTEGER, T0, Math.PI];
    const back = float64sFromLE(Buffer.from(b64(values), 'base64'));
    expect(Array.from(back)).toEqual(values);
    expect(Object.is(back[1], -0)).toBe(true);
  });

  test('a big-endian host reads and writes the same little-endian bytes (DataView path)', () => {
    const values = f64([1, -2.25, T0, 5e-324]);
    expect(packFloat64(values, false)).toBe(packFloat64(values, true));
    const bytes = Buffer.from(packFloat64(values), 'base64');
    expect(float64sFromLE(bytes, false)).toEqual(values);
  });

  test('an aligned buffer is viewed in place; an unaligned one is copied', () => {
    const bytes = new Uint8Array(8 * 3 + 8);
    bytes.set(Buffer.from(b64([1, 2, 3]), 'base64'), 0);
    const view = float64sFromLE(bytes.subarray(0, 24));
    expect(view.buffer).toBe(bytes.buffer);
    const shifted = new Uint8Array(8 * 3 + 3);
    shifted.set(bytes.subarray(0, 24), 3);
    const copy = float64sFromLE(shifted.subarray(3));
    expect(copy.buffer).not.toBe(shifted.buffer);
    expect(Array.from(copy)).toEqual([1, 2, 3]);
  });

  test('packs only the elements of a view (subarray), not its whole buffer', () => {
    expect(packFloat64(f64([9, 1, 2, 9]).subarray(1, 3))).toBe(b64([1, 2]));
  });
});

describe('packedColumn', () => {
  const ms = packedColumn('ms-since-epoch', 1, 4);
  const finite = packedColumn('finite', 1, 4);

  test('decodes to a Float64Array', () => {
    const r = ms.safeParse(b64([0, T0, Number.MAX_SAFE_INTEGER]));
    expect(r.success && Array.from(r.data)).toEqual([0, T0, Number.MAX_SAFE_INTEGER]);
    expect(r.success && r.data instanceof Float64Array).toBe(true);
    expect(finite.safeParse(b64([-1.5, 0, 1e300])).success).toBe(true);
  });

  test.each([
    ['a number', 12, '(root): must be a base64 string, received an integer out of range'],
    ['null', null, '(root): must be a base64 string, received null'],
    ['an array', [T0], '(root): must be a base64 string, received array'],
    ['missing padding', 'AAAAAAAA8D8', '(root): must be canonical base64 (A-Z a-z 0-9 + /, padded with =)'],
    [
      'base64url',
      b64([Number.MAX_VALUE]).replace(/\+/g, '-').replace(/\//g, '_'),
      '(root): must be canonical base64 (A-Z a-z 0-9 + /, padded with =)',
    ],
    [
      'a line break',
      `${b64([1, 2]).slice(0, 8)}\n${b64([1, 2]).slice(8)}`,
      '(root): must be canonical base64 (A-Z a-z 0-9 + /, padded with =)',
    ],
    [
      'a character outside the alphabet',
      `*${b64([1])}`,
      '(root): must be canonical base64 (A-Z a-z 0-9 + /, padded with =)',
    ],
    ['non-zero trailing bits', 'AAAAAAAAAAB=', '(root): must be canonical base64 (A-Z a-z 0-9 + /, padded with =)'],
    ['3 bytes', 'AAAA', '(root): must be whole 8-byte float64s, holds 3 bytes'],
    ['12 bytes', 'AAAAAAAAAAAAAAAA', '(root): must be whole 8-byte float64s, holds 12 bytes'],
    ['empty', '', '(root): must hold 1 to 4 items, holds 0'],
    ['too long', b64([1, 2, 3, 4, 5]), '(root): must hold 1 to 4 items, holds 5'],
    ['negative', b64([1, -1]), '1: must be an integer ms since epoch (0 to 2^53-1), received an integer out of range'],
    ['a fraction', b64([T0, T0, 1.5, -1]), '2: must be an integer ms since epoch (0 to 2^53-1), received a fraction'],
    [
      'beyond 2^53',
      b64([2 ** 53]),
      '0: must be an integer ms since epoch (0 to 2^53-1), received an integer out of range',
    ],
    ['NaN', b64([1, Number.NaN]), '1: must be an integer ms since epoch (0 to 2^53-1), received a non-finite number'],
    [
      'Infinity',
      b64([Number.POSITIVE_INFINITY]),
      '0: must be an integer ms since epoch (0 to 2^53-1), received a non-finite number',
    ],
  ])('ms-since-epoch refuses %s, naming the first bad index', (_name, input, expected) => {
    expect(issuesOf(ms.safeParse(input))).toEqual([expected]);
  });

  test.each([
    ['NaN', Number.NaN],
    ['a NaN with another payload', new Float64Array(new BigUint64Array([0x7ff8_0000_dead_beefn]).buffer)[0]!],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
  ])('finite refuses %s', (_name, bad) => {
    expect(issuesOf(finite.safeParse(b64([1, 2, bad, bad])))).toEqual([
      '2: must be a finite number, received a non-finite number',
    ]);
  });
});

describe('float64Column (what encode checks)', () => {
  const ms = float64Column('ms-since-epoch', 1, 4);

  test('passes a Float64Array through uncopied; refuses anything else and bad elements', () => {
    const column = f64([T0]);
    const r = ms.safeParse(column);
    expect(r.success && r.data).toBe(column);
    expect(issuesOf(ms.safeParse([T0]))).toEqual(['(root): must be a Float64Array, received array']);
    expect(issuesOf(ms.safeParse(f64([T0, 0.5])))).toEqual([
      '1: must be an integer ms since epoch (0 to 2^53-1), received a fraction',
    ]);
    expect(issuesOf(ms.safeParse(f64([])))).toEqual(['(root): must hold 1 to 4 items, holds 0']);
  });
});

describe('telemetry decode: packed columns', () => {
  test('encode sends the packed form; decode gives the same Float64Array columns for either form', () => {
    const env: TelemetryEnvelope = {
      schemaVersion: 1,
      kind: 'telemetry',
      origin: PEER,
      epoch: T0,
      seq: 3,
      sentAtMs: T0 + 100,
      windowMs: 1_000,
      series: [{ metric: 'm', window: T0, part: 0, late: true, ts: f64([T0 + 1, T0 + 2]), v: f64([0.5, -3]) }],
    };
    const wire = JSON.parse(new TextDecoder().decode(encodeEnvelope(env))) as {
      series: Array<Record<string, unknown>>;
    };
    expect(wire.series[0]).toEqual({
      metric: 'm',
      window: T0,
      part: 0,
      late: true,
      tsB64: b64([T0 + 1, T0 + 2]),
      vB64: b64([0.5, -3]),
    });
    const packed = decodeEnvelope(bytesOf(wire));
    const arrays = decodeEnvelope(
      bytesOf({
        ...wire,
        series: [{ metric: 'm', window: T0, part: 0, late: true, ts: [T0 + 1, T0 + 2], v: [0.5, -3] }],
      }),
    );
    expect(packed).toEqual({ ok: true, envelope: env });
    expect(arrays).toEqual(packed);
    expect(packed.ok && packed.envelope.kind === 'telemetry' && packed.envelope.series[0]!.v).toBeInstanceOf(
      Float64Array,
    );
  });

  test('encode sends the array form on request (telemetry.wireColumns: arrays, for a rolling upgrade)', () => {
    const env: TelemetryEnvelope = {
      schemaVersion: 1,
      kind: 'telemetry',
      origin: PEER,
      epoch: T0,
      seq: 3,
      sentAtMs: T0 + 100,
      windowMs: 1_000,
      series: [{ metric: 'm', window: T0, part: 0, ts: f64([T0 + 1, T0 + 2]), v: f64([0.5, -3]) }],
    };
    const bytes = encodeEnvelope(env, { telemetryColumns: 'arrays' });
    const wire = JSON.parse(new TextDecoder().decode(bytes)) as { series: Array<Record<string, unknown>> };
    expect(wire.series[0]).toEqual({ metric: 'm', window: T0, part: 0, ts: [T0 + 1, T0 + 2], v: [0.5, -3] });
    expect(decodeEnvelope(bytes)).toEqual({ ok: true, envelope: env });
  });

  test('errors name the field path: series, index, column, element', () => {
    expect(detailOf(telemetry({ tsB64: b64([T0, T0]), vB64: b64([1, Number.NaN]) }))).toBe(
      'series.0.vB64.1: must be a finite number, received a non-finite number',
    );
    expect(detailOf(telemetry({ tsB64: b64([T0, -5]), vB64: b64([1, 2]) }))).toBe(
      'series.0.tsB64.1: must be an integer ms since epoch (0 to 2^53-1), received an integer out of range',
    );
    expect(detailOf(telemetry({ tsB64: 'AAAAAAAA8D8', vB64: b64([1]) }))).toBe(
      'series.0.tsB64: must be canonical base64 (A-Z a-z 0-9 + /, padded with =)',
    );
    expect(detailOf(telemetry({ tsB64: b64([T0]), vB64: 'AAAA' }))).toBe(
      'series.0.vB64: must be whole 8-byte float64s, holds 3 bytes',
    );
    expect(detailOf(telemetry({ tsB64: b64([T0, T0]), vB64: b64([1]) }))).toBe(
      'series.0.vB64: tsB64 and vB64 differ in length',
    );
  });

  test('exactly one form: a mix of the two, both, or neither is refused', () => {
    const oneForm = 'series.0: must carry ts and v, or tsB64 and vB64 (one form)';
    expect(detailOf(telemetry({ tsB64: b64([T0]), v: [1] }))).toBe(oneForm);
    expect(detailOf(telemetry({ ts: [T0], vB64: b64([1]) }))).toBe(oneForm);
    expect(detailOf(telemetry({ ts: [T0], v: [1], tsB64: b64([T0]), vB64: b64([1]) }))).toBe(oneForm);
    expect(detailOf(telemetry({ tsB64: b64([T0]) }))).toBe(oneForm);
    expect(detailOf(telemetry({}))).toBe(oneForm);
  });

  test('at most MAX_TELEMETRY_POINTS per series and per envelope, across forms', () => {
    const n = MAX_TELEMETRY_POINTS;
    const full = Array.from({ length: n }, (_, i) => T0 + (i % 1_000));
    expect(decodeEnvelope(bytesOf(telemetry({ tsB64: b64(full), vB64: b64(full) })))).toMatchObject({ ok: true });
    const over = b64([...full, T0]);
    expect(detailOf(telemetry({ tsB64: over, vB64: over }))).toContain(
      `series.0.tsB64: must hold 1 to ${n} items, holds ${n + 1}`,
    );
    const half = full.slice(0, n / 2 + 1);
    const two = {
      ...telemetry({}),
      series: [
        { metric: 'm', window: T0, part: 0, tsB64: b64(half), vB64: b64(half) },
        { metric: 'm', window: T0, part: 1, ts: half, v: half },
      ],
    };
    expect(detailOf(two)).toBe(`series: at most ${n} points in all`);
  });

  test('encode refuses what decode would: non-finite values, bad timestamps, unequal lengths (INPUT_INVALID)', () => {
    const env = (ts: number[], v: number[]) => telemetry({ ts: f64(ts), v: f64(v) }) as TelemetryEnvelope;
    expect(() => encodeEnvelope(env([T0], [Number.NaN]))).toThrow(
      'series.0.v.0: must be a finite number, received a non-finite number',
    );
    expect(() => encodeEnvelope(env([T0], [Number.NEGATIVE_INFINITY]))).toThrow(
      'series.0.v.0: must be a finite number',
    );
    expect(() => encodeEnvelope(env([T0 + 0.5], [1]))).toThrow('series.0.ts.0: must be an integer ms since epoch');
    expect(() => encodeEnvelope(env([T0, T0], [1]))).toThrow('series.0.v: ts and v differ in length');
  });

  test('decode agrees with the declared schema (regex and zod per element) on valid and mutated packed columns', () => {
    const rnd = seededRandom(8);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const badTs = [-1, 0.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, -0, 1e308, 0];
    const badV = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308, -0, 5e-324];
    const garble: Array<(s: string) => string> = [
      (s) => s.replace(/=+$/, ''),
      (s) => s.replace(/\+/g, '-').replace(/\//g, '_'),
      (s) => `${s}\n`,
      (s) => `${s.replace(/=+$/, '')}AAAA`,
      (s) => s.slice(4),
      (s) => s.slice(0, -2) + String.fromCharCode(s.charCodeAt(s.length - 2) ^ 1) + s.slice(-1),
      (s) => ` ${s}`,
    ];
    let refused = 0;
    for (let round = 0; round < 600; round++) {
      const n = 1 + Math.floor(rnd() * 6);
      const ts = Array.from({ length: n }, () => T0 + Math.floor(rnd() * 1_000));
      const v = Array.from({ length: n }, () => (rnd() - 0.5) * 1e6);
      const mutation = Math.floor(rnd() * 7);
      if (mutation === 1) ts[Math.floor(rnd() * n)] = pick(badTs);
      if (mutation === 2) v[Math.floor(rnd() * n)] = pick(badV);
      if (mutation === 3) (rnd() < 0.5 ? ts : v).push(1);
      if (mutation === 4) (rnd() < 0.5 ? ts : v).splice(0, n);
      const columns: Record<string, unknown> = { tsB64: b64(ts), vB64: b64(v) };
      if (mutation === 5)
        columns[rnd() < 0.5 ? 'tsB64' : 'vB64'] = pick(garble)(columns[rnd() < 0.5 ? 'tsB64' : 'vB64'] as string);
      if (mutation === 6) Object.assign(columns, rnd() < 0.5 ? { ts } : { v });
      const value = telemetry(columns);
      if (decodeMatchesDeclared(value, `round ${round}: ${JSON.stringify(value['series'])}`)) refused++;
    }
    expect(refused).toBeGreaterThan(200);
  });
});
