import { describe, expect, test } from 'vitest';
import { hasCode } from '../../../src/core/errors.js';
import { parseTelemetryBody } from '../../../src/core/telemetry-point.js';

const NOW = 1_700_000_000_000;

function fieldOf(body: unknown): string | undefined {
  try {
    parseTelemetryBody(body, NOW);
  } catch (err) {
    if (hasCode(err, 'INPUT_INVALID')) return err.field;
    throw err;
  }
  return undefined;
}

describe('parseTelemetryBody', () => {
  test('accepts a batch and a single point; fills ts; sorts tags', () => {
    expect(
      parseTelemetryBody(
        { points: [{ metric: 'sentiment.delta', value: 1.5, tags: { z: '1', a: '2' }, ts: NOW - 5 }] },
        NOW,
      ),
    ).toEqual([{ metric: 'sentiment.delta', value: 1.5, tags: { a: '2', z: '1' }, ts: NOW - 5 }]);
    expect(parseTelemetryBody({ metric: 'x', value: -3 }, NOW)).toEqual([
      { metric: 'x', value: -3, tags: {}, ts: NOW },
    ]);
    expect(Object.keys(parseTelemetryBody({ metric: 'x', value: 1, tags: { z: '1', a: '2' } }, NOW)[0]!.tags)).toEqual([
      'a',
      'z',
    ]);
  });

  test.each([
    ['not an object', [1], 'body'],
    ['points not an array', { points: 3 }, 'points'],
    ['empty points', { points: [] }, 'points'],
    ['unknown top-level field', { points: [{ metric: 'a', value: 1 }], extra: 1 }, 'extra'],
    ['a non-object point', { points: [{ metric: 'a', value: 1 }, 'x'] }, 'points[1]'],
    [
      'bad metric',
      {
        points: [
          { metric: 'a', value: 1 },
          { metric: 'a..b', value: 1 },
        ],
      },
      'points[1].metric',
    ],
    ['deep metric', { points: [{ metric: 'a.b.c.d.e.f.g.h.i', value: 1 }] }, 'points[0].metric'],
    [
      'non-finite value',
      {
        points: [
          { metric: 'a', value: 1 },
          { metric: 'a', value: 1 },
          { metric: 'a', value: 1 },
          { metric: 'a', value: '1' },
        ],
      },
      'points[3].value',
    ],
    ['missing value', { metric: 'a' }, 'value'],
    [
      'too many tags',
      {
        points: [
          { metric: 'a', value: 1, tags: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'])) },
        ],
      },
      'points[0].tags',
    ],
    ['non-string tag', { points: [{ metric: 'a', value: 1, tags: { region: 3 } }] }, 'points[0].tags.region'],
    [
      'long tag value',
      { points: [{ metric: 'a', value: 1, tags: { region: 'x'.repeat(129) } }] },
      'points[0].tags.region',
    ],
    ['bad tag key', { points: [{ metric: 'a', value: 1, tags: { '1x': 'v' } }] }, 'points[0].tags.1x'],
    ['fractional ts', { points: [{ metric: 'a', value: 1, ts: 1.5 }] }, 'points[0].ts'],
    ['future ts', { points: [{ metric: 'a', value: 1, ts: NOW + 61_000 }] }, 'points[0].ts'],
    ['ancient ts', { points: [{ metric: 'a', value: 1, ts: NOW - 3_600_001 }] }, 'points[0].ts'],
    ['unknown point field', { points: [{ metric: 'a', value: 1, unit: 'ms' }] }, 'points[0].unit'],
  ])('INPUT_INVALID naming the field: %s', (_name, body, field) => {
    expect(fieldOf(body)).toBe(field);
  });

  test('refuses more points than the limit', () => {
    const points = Array.from({ length: 3 }, () => ({ metric: 'a', value: 1 }));
    expect(() => parseTelemetryBody({ points }, NOW, { maxPoints: 2, maxFutureMs: 0, maxAgeMs: 1 })).toThrow(
      /points: holds 3 points/,
    );
  });
});
