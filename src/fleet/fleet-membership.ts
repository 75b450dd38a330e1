/**
 * The fleet's member list and its plan of home shards, as this node holds them now. Implements
 * the core `Membership` port (asked afresh at every decision), and re-plans when the list is
 * reloaded: listeners hear which shard this node is in after the change.
 */
import type { QuorumSetting } from '../core/consensus.js';
import { planMembership } from '../core/membership.js';
import type { EndorsingShard, Membership } from '../core/ports.js';
import { checkPlanQuorum, movedMembers, planShards, shardTopic, type Shard, type ShardPlan } from '../core/shards.js';

/** What a fleet is built from. */
export interface FleetMembershipOptions {
  /** This node's peer ID. */
  self: string;
  /** The member list (`consensus.members` and the members file); order and duplicates do not matter. */
  members: readonly string[];
  /** `consensus.shardSize`. */
  shardSize: number;
  /** `consensus.quorum`, applied per shard. */
  quorum: QuorumSetting;
  /** The fleet topic (`mesh.topic`); shard topics live under it. */
  baseTopic: string;
}

/** What a re-plan changed, as seen from this node. */
export interface Replan {
  /** False when the new list forms the same shards. */
  changed: boolean;
  /** Members present before and after that now sit in another shard. */
  moved: number;
  /** This node's home shard before and after (undefined: not a member). */
  homeBefore: string | undefined;
  homeAfter: string | undefined;
  members: number;
  shards: number;
}

/** The member list and its shards. */
export class FleetMembership implements Membership {
  private plan: ShardPlan;
  private view: Membership;
  private readonly listeners = new Set<(replan: Replan) => void>();

  /**
   * Throws CONFIG_INVALID naming `consensus.quorum` (or `consensus.members`) when a shard could not reach its quorum.
   */
  constructor(private readonly opts: FleetMembershipOptions) {
    this.plan = this.checkedPlan(opts.members);
    this.view = planMembership(this.plan, opts.quorum);
  }

  /** {@inheritDoc Membership.shardOf} */
  shardOf(origin: string): EndorsingShard | undefined {
    return this.view.shardOf(origin);
  }

  /** True when `peerId` is a member of the fleet. */
  isMember(peerId: string): boolean {
    return this.plan.shardOf(peerId) !== undefined;
  }

  /** The distinct members, sorted. */
  get members(): readonly string[] {
    return this.plan.members;
  }

  /** The current plan. */
  get shards(): readonly Shard[] {
    return this.plan.shards;
  }

  /** This node's home shard; undefined when it is not a member. */
  home(): Shard | undefined {
    return this.plan.shardOf(this.opts.self);
  }

  /** The home shard's topic and members, for the mesh; null when this node is not a member. */
  homeTopic(): { topic: string; members: readonly string[] } | null {
    const home = this.home();
    return home === undefined ? null : { topic: shardTopic(this.opts.baseTopic, home), members: home.members };
  }

  /**
   * Replaces the member list and re-plans. Throws CONFIG_INVALID (and keeps the current plan)
   * when a shard of the new plan could not reach its quorum. Listeners hear every change.
   */
  update(members: readonly string[]): Replan {
    const next = this.checkedPlan(members);
    const before = this.plan;
    const replan: Replan = {
      changed: !samePlan(before, next),
      moved: movedMembers(before, next),
      homeBefore: before.shardOf(this.opts.self)?.name,
      homeAfter: next.shardOf(this.opts.self)?.name,
      members: next.members.length,
      shards: next.shards.length,
    };
    if (!replan.changed) return replan;
    this.plan = next;
    this.view = planMembership(next, this.opts.quorum);
    for (const listener of this.listeners) listener(replan);
    return replan;
  }

  /** Calls `listener` after every change of the plan. Returns the unsubscribe function. */
  onChange(listener: (replan: Replan) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private checkedPlan(members: readonly string[]): ShardPlan {
    const plan = planShards(members, this.opts.shardSize);
    checkPlanQuorum(plan, this.opts.quorum);
    return plan;
  }
}

function samePlan(a: ShardPlan, b: ShardPlan): boolean {
  if (a.shards.length !== b.shards.length) return false;
  return a.shards.every((s, i) => s.members.join(',') === b.shards[i]!.members.join(','));
}
