/**
 * The two pure {@link Membership}s: a cohort (one shard whose members all endorse, or open
 * membership when empty), and a fleet's plan of home shards with a quorum per shard.
 */
import { resolveQuorum, type QuorumSetting } from './consensus.js';
import type { EndorsingShard, Membership } from './ports.js';
import { shardQuorum, type ShardPlan } from './shards.js';

/**
 * `consensus.cohort` as a membership: everyone's intents go to the one cohort (any peer's when it
 * is empty). A count is taken as already resolved; `majority` is resolved here.
 */
export function cohortMembership(cohort: readonly string[], quorum: QuorumSetting): Membership {
  const members = new Set(cohort);
  const resolved = quorum === 'majority' ? resolveQuorum(quorum, cohort) : quorum;
  const shard: EndorsingShard = { name: null, members, quorum: resolved };
  return { shardOf: (origin) => (members.size === 0 || members.has(origin) ? shard : undefined) };
}

/** A fleet's plan as a membership: a member's intents go to its home shard, with the quorum per shard. */
export function planMembership(plan: ShardPlan, quorum: QuorumSetting): Membership {
  const views = new Map<string, EndorsingShard>(
    plan.shards.map((s) => [
      s.name,
      { name: s.name, members: new Set(s.members), quorum: shardQuorum(quorum, s.members.length) },
    ]),
  );
  return {
    shardOf: (origin) => {
      const shard = plan.shardOf(origin);
      return shard === undefined ? undefined : views.get(shard.name);
    },
  };
}

/** True when `peerId`'s endorsement counts for an intent of `shard`. */
export function endorsesIn(shard: EndorsingShard, peerId: string): boolean {
  return shard.members.size === 0 || shard.members.has(peerId);
}
