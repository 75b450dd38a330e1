import { describe, expect, test } from 'vitest';
import { ExactSum } from '../../../src/core/exact-sum.js';
import { buildSummary, type SummaryKey } from '../../../src/core/telemetry-summary.js';
import {
  assignWindow,
  firstWindowAfter,
  SeriesAssigner,
  SKETCH_RELATIVE_ACCURACY,
  WindowAccumulator,
  windowStartOf,
  type WindowStats,
} from '../../../src/core/telemetry-window.js';
import type { TelemetryPoint } from '../../../src/core/telemetry-point.js';
import { seededRandom } from '../../support/seeded-random.js';

const T0 = 1_700_000_000_000; // a multiple of 1,000
const RULES = { windowMs: 1_000, allowedLatenessMs: 500, maxPoints: 3 };

describe('window alignment', () => {
  test('windows are wall-clock multiples of windowMs', () => {
    expect(windowStartOf(T0 + 999, 1_000)).toBe(T0);
    expect(windowStartOf(T0 + 1_000, 1_000)).toBe(T0 + 1_000);
    expect(windowStartOf(T0 + 7, 250)).toBe(T0);
    expect(windowStartOf(-1, 1_000)).toBe(-1_000);
  });

  test("a new scout's first whole window begins at or after the time given", () => {
    expect(firstWindowAfter(T0, 1_000)).toBe(T0);
    expect(firstWindowAfter(T0 + 1, 1_000)).toBe(T0 + 1_000);
    expect(firstWindowAfter(T0 + 999, 1_000)).toBe(T0 + 1_000);
    expect(firstWindowAfter(T0 + 1_001, 250)).toBe(T0 + 1_250);
  });

  test('the origin files a point by its ts while the window is open, else as late in the current window', () => {
    expect(assignWindow(T0 + 999, T0 + 1_100, RULES)).toEqual({ window: T0, late: false });
    expect(assignWindow(T0 + 999, T0 + 1_499, RULES)).toEqual({ window: T0, late: false });
    expect(assignWindow(T0 + 999, T0 + 1_500, RULES)).toEqual({ window: T0 + 1_000, late: true });
    expect(assignWindow(T0 - 10_000, T0 + 300, RULES)).toEqual({ window: T0, late: true });
    // A point ahead of the origin's clock cannot go to a window scouts have not opened yet.
    expect(assignWindow(T0 + 5_000, T0 + 300, RULES)).toEqual({ window: T0, late: true });
  });

  test('parts follow the origin ordinal per series and window, so a full part is complete', () => {
    const a = new SeriesAssigner(RULES);
    const pt = (metric: string, ts: number, value = 1, tags: Record<string, string> = {}): TelemetryPoint => ({
      metric,
      value,
      tags,
      ts,
    });
    const first = a.assign(
      [pt('m', T0 + 1), pt('m', T0 + 2), pt('n', T0 + 3), pt('m', T0 + 4), pt('m', T0 + 5, 1, { k: 'v' })],
      T0 + 50,
    );
    expect(first.map((c) => [c.metric, c.part, c.ts.length, c.tags])).toEqual([
      ['m', 0, 3, undefined],
      ['n', 0, 1, undefined],
      ['m', 0, 1, { k: 'v' }],
    ]);
    const second = a.assign([pt('m', T0 + 6), pt('m', T0 + 7), pt('m', T0 + 8), pt('m', T0 + 9)], T0 + 150);
    expect(second.map((c) => [c.part, c.ts.length])).toEqual([
      [1, 3],
      [2, 1],
    ]);
    // Counters of windows that can no longer take points are pruned.
    a.assign([pt('m', T0 + 5_000)], T0 + 5_000);
    expect(a.size).toBe(1);
  });
});

describe('ExactSum', () => {
  test('is exactly rounded and order-independent', () => {
    const values = [1e16, 1, -1e16, 1, 0.1, 0.2, 0.3, 1e-20, -0.3];
    const sums = new Set<number>();
    const rnd = seededRandom(7);
    for (let i = 0; i < 50; i++) {
      const s = new ExactSum();
      for (const v of [...values].sort(() => rnd() - 0.5)) s.add(v);
      sums.add(s.value());
    }
    expect([...sums]).toEqual([2.3]); // Python math.fsum gives the same
    const naive = values.reduce((a, b) => a + b, 0);
    expect(naive).not.toBe(2.3);
  });

  test('stays exact with many non-overlapping partials (more than its initial room for 8)', () => {
    // Integers 2^(60k) and ±1 need one partial each; BigInt gives the exact sum and Number() rounds it once.
    const values = [
      ...Array.from({ length: 17 }, (_, k) => 2 ** (60 * k)),
      1,
      -1,
      3,
      2 ** 1000 + 2 ** 948,
      -(2 ** 947),
    ];
    const exact = Number(values.reduce((a, v) => a + BigInt(v), 0n));
    const rnd = seededRandom(11);
    for (let round = 0; round < 20; round++) {
      const s = new ExactSum();
      for (const v of [...values].sort(() => rnd() - 0.5)) s.add(v);
      expect(s.value(), `round ${round}`).toBe(exact);
    }
  });
});

type Dist = [string, (r: () => number) => number];
const gauss = (r: () => number): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const DISTS: Dist[] = [
  ['uniform 1..1000', (r) => 1 + 999 * r()],
  ['exponential', (r) => -Math.log(1 - r()) * 50],
  ['lognormal', (r) => Math.exp(3 + 1.5 * gauss(r))],
  ['pareto (heavy tail)', (r) => 1 / (1 - r()) ** (1 / 1.2)],
  ['normal with negatives', (r) => 100 * gauss(r)],
  ['integers with ties', (r) => Math.floor(r() * 10)],
];

describe('window accumulator', () => {
  test.each(DISTS)('%s: count/sum/min/max/mean exact, quantiles within the sketch accuracy', (_name, draw) => {
    const rnd = seededRandom(42);
    const acc = new WindowAccumulator();
    const values: number[] = [];
    const exact = new ExactSum();
    for (let i = 0; i < 20_000; i++) {
      const v = draw(rnd);
      values.push(v);
      exact.add(v);
      acc.add(T0 + (i % 1_000), v);
    }
    const s = acc.stats();
    const sorted = [...values].sort((a, b) => a - b);
    expect(s.count).toBe(values.length);
    expect(s.sum).toBe(exact.value());
    expect(s.min).toBe(sorted[0]);
    expect(s.max).toBe(sorted[sorted.length - 1]);
    expect(s.mean).toBe(exact.value() / values.length);
    expect([s.firstTs, s.lastTs]).toEqual([T0, T0 + 999]);
    for (const [q, got] of [
      [0.5, s.p50],
      [0.95, s.p95],
      [0.99, s.p99],
    ] as const) {
      const x = sorted[Math.ceil(q * sorted.length) - 1]!;
      const err = x === 0 ? Math.abs(got) : Math.abs(got - x) / Math.abs(x);
      expect(err, `q=${q} got ${got} exact (nearest rank) ${x}`).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY + 1e-12);
    }
  });

  test('quantiles of small windows are nearest-rank: p99 is the largest point once n < 100', () => {
    const stats = (values: number[]): WindowStats => {
      const acc = new WindowAccumulator();
      values.forEach((v, i) => {
        acc.add(T0 + i, v);
      });
      return acc.stats();
    };
    const near = (got: number, want: number): void =>
      expect(Math.abs(got - want) / Math.abs(want)).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY + 1e-12);
    expect(stats([7])).toMatchObject({ p50: 7, p95: 7, p99: 7 });
    expect(stats([1, 3])).toMatchObject({ p50: 1, p95: 3, p99: 3 });
    const ten = stats([3, 1, 4, 10, 5, 9, 2, 6, 8, 7]);
    near(ten.p50, 5);
    expect([ten.p95, ten.p99]).toEqual([10, 10]);
    const hundred = stats(Array.from({ length: 100 }, (_, i) => 100 - i));
    [
      [hundred.p50, 50],
      [hundred.p95, 95],
      [hundred.p99, 99],
    ].forEach(([got, want]) => {
      near(got!, want!);
    });
    const negatives = stats([-5, -1, -3, 0, 2]);
    near(negatives.p50, -1);
    expect(negatives.p99).toBe(2);
  });

  test('addColumns gives the same statistics as add per point', () => {
    const rnd = seededRandom(5);
    const ts = Array.from({ length: 3_000 }, (_, i) => T0 + ((i * 7) % 1_000));
    const v = ts.map(() => (rnd() - 0.4) * 1e4);
    const one = new WindowAccumulator();
    ts.forEach((t, i) => {
      one.add(t, v[i]!);
    });
    const columns = new WindowAccumulator();
    columns.addColumns(new Float64Array(ts.slice(0, 1_000)), new Float64Array(v.slice(0, 1_000)));
    columns.addColumns(new Float64Array(ts.slice(1_000)), new Float64Array(v.slice(1_000)));
    expect(columns.count).toBe(3_000);
    expect(columns.stats()).toEqual(one.stats());
  });

  test('the summary is byte-identical whatever order the points arrive in', () => {
    const rnd = seededRandom(3);
    const points = Array.from({ length: 5_000 }, (_, i) => [T0 + (i % 997), (rnd() - 0.3) * 1e3] as const);
    const key: SummaryKey = {
      metric: 'm',
      origin: 'o',
      epoch: 1,
      tags: { b: '1', a: '2' },
      windowStart: T0,
      windowMs: 1_000,
      part: 0,
      late: false,
    };
    const bodies = new Set<string>();
    for (let round = 0; round < 5; round++) {
      const acc = new WindowAccumulator();
      for (const [ts, v] of [...points].sort(() => rnd() - 0.5)) acc.add(ts, v);
      bodies.add(JSON.stringify(buildSummary(key, acc.stats())));
    }
    expect(bodies.size).toBe(1);
    const body = JSON.parse([...bodies][0]!) as Record<string, unknown>;
    expect(Object.keys(body).slice(0, 13)).toEqual([
      'schemaVersion',
      'metric',
      'origin',
      'windowStart',
      'windowEnd',
      'count',
      'sum',
      'min',
      'max',
      'mean',
      'p50',
      'p95',
      'p99',
    ]);
    expect(body).toMatchObject({
      windowEnd: T0 + 1_000,
      count: 5_000,
      tags: { a: '2', b: '1' },
      relativeAccuracy: 0.01,
    });
  });
});
