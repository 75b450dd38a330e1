import { describe, expect, it } from 'vitest';
import { LeaseCoverage, LeaseTerms } from '../../../src/core/lease-coverage.js';
import { ManualClock } from '../../support/manual-clock.js';

describe('LeaseTerms', () => {
  it('defaults to a 10 s lease and a 5 s send margin; a longer margin gets twice its length', () => {
    expect(LeaseTerms.from({})).toMatchObject({ ttlMs: 10_000, sendMarginMs: 5_000 });
    expect(LeaseTerms.from({ sendMarginMs: 8_000 })).toMatchObject({ ttlMs: 16_000, sendMarginMs: 8_000 });
    expect(LeaseTerms.from({ sendMarginMs: 1_000 })).toMatchObject({ ttlMs: 10_000, sendMarginMs: 1_000 });
    expect(LeaseTerms.from({ ttlMs: 30_000, sendMarginMs: 2_000 })).toMatchObject({ ttlMs: 30_000 });
  });

  it('refuses a lease no longer than the send margin', () => {
    expect(() => LeaseTerms.from({ ttlMs: 5_000, sendMarginMs: 5_000 })).toThrow(/must exceed sendMarginMs/);
  });

  it('a claim is covered from its last attempt; a row never attempted from the epoch', () => {
    const terms = LeaseTerms.from({});
    expect(terms.ofClaim({ lastAttemptAtMs: 1_000 })).toMatchObject({ renewedAtMs: 1_000, untilMs: 11_000 });
    expect(terms.ofClaim({ lastAttemptAtMs: null })).toMatchObject({ renewedAtMs: 0, untilMs: 10_000 });
  });
});

describe('LeaseCoverage', () => {
  it('allows a send until the margin is left, and a put-back until the lease runs out', () => {
    const clock = new ManualClock();
    const coverage = LeaseTerms.from({}).renewedAt(clock.now());
    expect([coverage.holdsWithMargin(clock.now()), coverage.holds(clock.now())]).toEqual([true, true]);
    clock.advance(4_999);
    expect([coverage.holdsWithMargin(clock.now()), coverage.holds(clock.now())]).toEqual([true, true]);
    clock.advance(1);
    // 5 s left: a send may now outlast the lease.
    expect([coverage.holdsWithMargin(clock.now()), coverage.holds(clock.now())]).toEqual([false, true]);
    clock.advance(4_999);
    expect(coverage.holds(clock.now())).toBe(true);
    clock.advance(1);
    expect(coverage.holds(clock.now())).toBe(false);
  });

  it('UNBOUNDED always holds (the caller answers for the lease); NONE never does', () => {
    expect(LeaseCoverage.UNBOUNDED.holdsWithMargin(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(LeaseCoverage.UNBOUNDED.holds(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(LeaseCoverage.NONE.holds(0)).toBe(false);
    expect(LeaseCoverage.NONE.holds(Date.now())).toBe(false);
  });
});
