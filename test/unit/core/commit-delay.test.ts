// The takeover step: configured floor, grows with late commits, capped, and shrinks back.
import { describe, expect, it } from 'vitest';
import { CommitDelayEstimate } from '../../../src/core/commit-delay.js';

describe('CommitDelayEstimate', () => {
  it('is takeoverMs until a commit is seen, and while commits are quick', () => {
    const e = new CommitDelayEstimate({ takeoverMs: 500 });
    expect(e.stepMs()).toBe(500);
    for (let i = 0; i < 50; i++) e.observe(80 + (i % 5) * 10);
    expect(e.stepMs()).toBe(500);
  });

  it('grows while commits are seen late, never past the cap, and comes back down', () => {
    const e = new CommitDelayEstimate({ takeoverMs: 500, capFactor: 10 });
    for (let i = 0; i < 20; i++) e.observe(2_000);
    expect(e.stepMs()).toBeGreaterThanOrEqual(2_000);
    expect(e.stepMs()).toBeLessThanOrEqual(5_000);
    for (let i = 0; i < 20; i++) e.observe(60_000);
    expect(e.stepMs()).toBe(5_000);
    for (let i = 0; i < 100; i++) e.observe(100);
    expect(e.stepMs()).toBe(500);
  });

  it('a negative delay (clock steps) counts as zero', () => {
    const e = new CommitDelayEstimate({ takeoverMs: 500 });
    e.observe(-1_000);
    expect(e.stepMs()).toBe(500);
  });
});
