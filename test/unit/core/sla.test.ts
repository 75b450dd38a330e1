import { describe, expect, it } from 'vitest';
import { judgeLag, SLA_MS, windowLatency, type CumulativeBuckets } from '../../../src/core/sla.js';

// Cumulative buckets as prom-client reports them (le in seconds).
const b = (...pairs: Array<[number, number]>): CumulativeBuckets => pairs;
const INF = Number.POSITIVE_INFINITY;

describe('windowLatency', () => {
  it('is empty with no commits in the window', () => {
    const s = b([0.1, 5], [0.5, 5], [2, 5], [INF, 5]);
    expect(windowLatency(s, s, 500)).toEqual({ commits: 0, p99Ms: null, overSla: 0 });
  });

  it('counts only the window between two snapshots and finds the p99 bucket', () => {
    const before = b([0.1, 100], [0.5, 100], [2, 100], [INF, 100]);
    // 200 new commits: 198 within 100 ms, 2 between 0.5 and 2 s.
    const after = b([0.1, 298], [0.5, 298], [2, 300], [INF, 300]);
    expect(windowLatency(before, after, 500)).toEqual({ commits: 200, p99Ms: 100, overSla: 2 });
  });

  it('since start (no earlier snapshot) uses the whole histogram; p99 past the last bound is Infinity', () => {
    expect(windowLatency([], b([0.5, 1], [2, 1], [INF, 10]), 500)).toEqual({ commits: 10, p99Ms: INF, overSla: 9 });
  });
});

describe('judgeLag', () => {
  const recent = { commits: 0, p99Ms: null, overSla: 0, windowMs: 300_000 };

  it('uses the seed SLAs: 500 ms for commands, 2 s for telemetry', () => {
    expect(SLA_MS).toEqual({ command: 500, telemetry: 2_000 });
    expect(judgeLag('command', 499, 1, recent).ok).toBe(true);
    expect(judgeLag('telemetry', 1_999, 1, recent).ok).toBe(true);
  });

  it('breaches when the oldest pending row is as old as the SLA', () => {
    const l = judgeLag('command', 500, 3, recent);
    expect(l.ok).toBe(false);
    expect(l.breaches[0]).toMatch(/oldest pending command row is 500 ms old \(SLA < 500 ms\)/);
  });

  it('breaches when more than 1% of the window commits exceeded the SLA (p99 outside)', () => {
    expect(judgeLag('command', 0, 0, { ...recent, commits: 100, overSla: 1, p99Ms: 500 }).ok).toBe(true);
    const l = judgeLag('command', 0, 0, { ...recent, commits: 100, overSla: 2, p99Ms: 1_000 });
    expect(l.ok).toBe(false);
    expect(l.breaches[0]).toMatch(/2 of 100 command commits in the last 300 s took ≥ 500 ms/);
  });
});
