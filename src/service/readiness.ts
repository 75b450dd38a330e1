/**
 * `/readyz`: what makes a sidecar ready to take intents, each failing check saying why.
 */
import type { SqliteOutbox } from '../buffer/index.js';

/** A backlog with no commit for this long, while NATS is ready, is a stalled committer. */
export const COMMIT_STALL_MS = 60_000;

/**
 * `/readyz`: ready when NATS and the streams are, the outbox can write, and commits make progress
 * (a backlog of committable rows saw a commit within COMMIT_STALL_MS).
 */
export function readiness(
  publisher: string,
  connection: string,
  outbox: Pick<SqliteOutbox, 'writeError' | 'counts'>,
  now: number,
  progress: { lastCommitAtMs: number },
): { ready: boolean; checks: Record<string, boolean | string> } {
  const nats = publisher === 'connected';
  const write = outbox.writeError;
  const counts = outbox.counts();
  const backlog = counts['pending-commit'] + counts['in-flight'];
  const stalled = nats && backlog > 0 && now - progress.lastCommitAtMs > COMMIT_STALL_MS;
  const checks: Record<string, boolean | string> = {
    nats: nats ? true : connection,
    outbox: write === null ? true : write,
    commits: stalled
      ? `no commit for ${Math.round((now - progress.lastCommitAtMs) / 1000)} s with ${backlog} rows waiting`
      : true,
  };
  return { ready: Object.values(checks).every((c) => c === true), checks };
}

/**
 * Adds the fleet's `shard` check (a home shard below its quorum cannot commit: intents wait) to a
 * readiness answer; unchanged when `shard` is undefined (a cohort, or consensus off).
 */
export function withShard(
  r: { ready: boolean; checks: Record<string, boolean | string> },
  shard: true | string | undefined,
): { ready: boolean; checks: Record<string, boolean | string> } {
  if (shard === undefined) return r;
  return { ready: r.ready && shard === true, checks: { ...r.checks, shard } };
}
