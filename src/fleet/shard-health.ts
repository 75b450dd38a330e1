/**
 * This node's view of its home shard: how many of its members are reachable (itself, and mates
 * subscribed to the shard's topic) against the shard's quorum. Below quorum the shard cannot
 * commit: `/readyz` says so by name, and intents accepted meanwhile wait durably as `proposed`
 * until the shard heals, or expire at their TTL (as in a partition).
 */
import type { FleetMembership } from './fleet-membership.js';

/** The node's shard as `GET /v1/status` shows it. */
export interface ShardStatus {
  /** `shard-<i>-of-<n>`; null when this node is not a member. */
  name: string | null;
  /** The shard's members, sorted. */
  members: string[];
  /** Members reachable now: this node and the mates subscribed to the shard's topic. */
  connectedMembers: number;
  /** Endorsements an intent of the shard needs; null when this node is not a member. */
  quorum: number | null;
  /** True when the connected members can reach the quorum. */
  quorumReachable: boolean;
}

/** What {@link ShardHealth} reads. */
export interface ShardHealthOptions {
  membership: FleetMembership;
  self: string;
  /** Peers subscribed to this node's home shard topic now. */
  subscribers: () => readonly string[];
  /**
   * Peers in this node's gossipsub mesh of the home topic (grafted: connected, subscribed, scored
   * well). When given, readiness also waits for {@link meshNeeded} of them.
   */
  meshPeers?: () => readonly string[];
}

/**
 * Grafted mates readiness waits for: quorum − 1 (a quorum with this node), at most 4 (gossipsub's
 * D_lo, which bounds the mesh of a large shard; the rest is reached by flood publish).
 */
export function meshNeeded(quorum: number): number {
  return Math.max(0, Math.min(quorum - 1, 4));
}

/** Computes the shard's status on demand (status, readiness, metric scrapes). */
export class ShardHealth {
  constructor(private readonly opts: ShardHealthOptions) {}

  /** The home shard's status now. */
  status(): ShardStatus {
    const { membership, self } = this.opts;
    const home = membership.home();
    if (home === undefined)
      return { name: null, members: [], connectedMembers: 0, quorum: null, quorumReachable: false };
    const mates = new Set(home.members);
    const connected = new Set(this.opts.subscribers().filter((p) => mates.has(p)));
    connected.add(self);
    const quorum = membership.shardOf(self)?.quorum ?? home.members.length;
    return {
      name: home.name,
      members: [...home.members],
      connectedMembers: connected.size,
      quorum,
      quorumReachable: connected.size >= quorum,
    };
  }

  /**
   * `/readyz`'s `shard` check: true, or why the shard cannot commit yet: too few members reachable,
   * or (with `meshPeers`) the home topic's mesh still forming, in which a node that takes
   * intents sees its first ones wait.
   */
  readiness(): true | string {
    const s = this.status();
    if (s.name === null) return 'this node is not a member of the fleet (consensus.members)';
    if (!s.quorumReachable)
      return `${s.name}: ${s.connectedMembers} of ${s.members.length} members connected, quorum ${s.quorum}; intents wait`;
    const meshPeers = this.opts.meshPeers;
    if (meshPeers === undefined || s.quorum === null) return true;
    const mates = new Set(s.members);
    const grafted = meshPeers().filter((p) => mates.has(p)).length;
    const needed = meshNeeded(s.quorum);
    if (grafted >= needed) return true;
    return `${s.name}: home mesh forming, ${grafted} of ${needed} mates grafted; intents wait`;
  }
}
