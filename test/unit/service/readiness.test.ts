import { describe, expect, it } from 'vitest';
import { COMMIT_STALL_MS, readiness } from '../../../src/service/readiness.js';

const counts = (pending: number) => ({
  proposed: 0,
  'pending-commit': pending,
  'in-flight': 0,
  committed: 0,
  expired: 0,
  rejected: 0,
  dead: 0,
});
const outbox = (pending: number, writeError: string | null = null) => ({ writeError, counts: () => counts(pending) });

describe('readiness', () => {
  it('is ready with NATS up, a writable outbox and no stalled backlog', () => {
    expect(readiness('connected', 'connected', outbox(5), 1_000, { lastCommitAtMs: 0 })).toEqual({
      ready: true,
      checks: { nats: true, outbox: true, commits: true },
    });
  });

  it('names NATS, a failing outbox write and a stalled committer', () => {
    expect(readiness('connecting', 'disconnected', outbox(0), 0, { lastCommitAtMs: 0 }).checks.nats).toBe(
      'disconnected',
    );
    const full = readiness('connected', 'connected', outbox(0, 'outbox append failed: database or disk is full'), 0, {
      lastCommitAtMs: 0,
    });
    expect(full).toMatchObject({ ready: false, checks: { outbox: 'outbox append failed: database or disk is full' } });
    const stalled = readiness('connected', 'connected', outbox(3), COMMIT_STALL_MS + 1_000, { lastCommitAtMs: 0 });
    expect(stalled.ready).toBe(false);
    expect(stalled.checks.commits).toMatch(/no commit for 61 s with 3 rows waiting/);
    // No backlog: no stall, however long since the last commit.
    expect(readiness('connected', 'connected', outbox(0), 10 * COMMIT_STALL_MS, { lastCommitAtMs: 0 }).ready).toBe(
      true,
    );
  });
});
