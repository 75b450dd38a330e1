/**
 * Home shards of a fleet, pure: the member list is split into max(1, ⌊members ÷ shardSize⌋)
 * shards of near-equal size (sizes differ by at most 1), each endorsing and committing its own
 * members' intents with its own quorum. Every member computes the same plan from the member list
 * alone: the list's order and duplicates do not matter. Rendezvous hashing with capacity keeps
 * most members in place when one joins or leaves while the shard count stays (docs/fleet.md).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { QuorumSetting } from './consensus.js';
import { NetSyncError } from './errors.js';

/** One home shard of a plan. */
export interface Shard {
  /** `shard-<index>-of-<count>`: names the shard in its gossip topic and in every command it commits. */
  readonly name: string;
  /** 0-based position among the plan's shards. */
  readonly index: number;
  /** Its members' peer IDs, sorted. */
  readonly members: readonly string[];
}

/** The grouping of a fleet into shards. */
export interface ShardPlan {
  /** `consensus.shardSize` the plan was made for. */
  readonly shardSize: number;
  /** The fleet's distinct members, sorted. */
  readonly members: readonly string[];
  /** The shards, by index. Always at least one (empty when the fleet is). */
  readonly shards: readonly Shard[];
  /** The shard `peerId` belongs to; undefined for a non-member. */
  shardOf(peerId: string): Shard | undefined;
  /** The shard named `name`; undefined when the plan has none of that name. */
  byName(name: string): Shard | undefined;
}

/** The number of shards a fleet of `memberCount` forms: max(1, ⌊memberCount ÷ shardSize⌋). */
export function shardCount(memberCount: number, shardSize: number): number {
  return Math.max(1, Math.floor(memberCount / shardSize));
}

/** The name of shard `index` of `count`. */
export function shardName(index: number, count: number): string {
  return `shard-${index}-of-${count}`;
}

/** The gossip topic of `shard`, under the fleet's topic (`mesh.topic`). */
export function shardTopic(baseTopic: string, shardNameOrShard: string | Shard): string {
  const name = typeof shardNameOrShard === 'string' ? shardNameOrShard : shardNameOrShard.name;
  return `${baseTopic}/${name}`;
}

/**
 * The telemetry topic under the fleet's topic (`mesh.topic`): scouts and the origins that send
 * them their points (`telemetry.summarise: scouts`) meet there, off every consensus topic, so a
 * node that summarises its own points at the origin never subscribes to it and pays nothing for it.
 */
export function telemetryTopic(baseTopic: string): string {
  return `${baseTopic}/telemetry`;
}

const encoder = new TextEncoder();

// murmur3's 32-bit finaliser: a bijective mix, so distinct inputs keep distinct outputs.
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The first 64 bits of SHA-256 of `member`, as two 32-bit words: its rendezvous key. */
function memberKey(member: string): [number, number] {
  const h = sha256(encoder.encode(member));
  return [
    ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0,
    ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) >>> 0,
  ];
}

/**
 * Rendezvous weight of a member (by its key) for shard `index`: 53 bits mixed from the member's
 * SHA-256 and the shard index. Independent of the shard count, so a member keeps its preferences
 * when shards are added.
 */
function weight(key: readonly [number, number], index: number): number {
  const seed = fmix32(Math.imul(index + 1, 0x9e3779b9));
  const hi = fmix32(key[0] ^ seed);
  const lo = fmix32(key[1] ^ fmix32(seed ^ 0x27d4eb2f));
  return hi * 2 ** 21 + (lo >>> 11);
}

/**
 * Groups `members` into shards (see the file comment). Each (member, shard) pair gets a
 * rendezvous weight; pairs are taken heaviest first, and a member goes to the first shard that
 * still has room. With n members in c shards, n mod c shards hold ⌈n ÷ c⌉, the rest ⌊n ÷ c⌋
 * (the lower indexes are the larger). Cost O(n²/shardSize · log): fine for hundreds of members.
 */
export function planShards(members: Iterable<string>, shardSize: number): ShardPlan {
  if (!Number.isInteger(shardSize) || shardSize < 1)
    throw new NetSyncError('CONFIG_INVALID', 'consensus.shardSize: must be a positive integer', {
      field: 'consensus.shardSize',
    });
  const distinct = [...new Set(members)].sort();
  const count = shardCount(distinct.length, shardSize);
  const base = Math.floor(distinct.length / count);
  const larger = distinct.length % count;
  const room = Array.from({ length: count }, (_, i) => base + (i < larger ? 1 : 0));
  const pairs: Array<{ w: number; m: number; s: number }> = [];
  distinct.forEach((member, m) => {
    const key = memberKey(member);
    for (let s = 0; s < count; s++) pairs.push({ w: weight(key, s), m, s });
  });
  // Ties (rare: 53-bit weights) fall back to the member's sorted position, then the shard index.
  pairs.sort((a, b) => b.w - a.w || a.m - b.m || a.s - b.s);
  const placed = new Array<number>(distinct.length).fill(-1);
  const groups: string[][] = Array.from({ length: count }, () => []);
  for (const p of pairs) {
    if (placed[p.m] !== -1 || room[p.s] === 0) continue;
    placed[p.m] = p.s;
    room[p.s]!--;
    groups[p.s]!.push(distinct[p.m]!);
  }
  const shards: Shard[] = groups.map((g, index) => ({ name: shardName(index, count), index, members: g.sort() }));
  const byMember = new Map<string, Shard>();
  for (const shard of shards) for (const m of shard.members) byMember.set(m, shard);
  const byName = new Map(shards.map((s) => [s.name, s]));
  return {
    shardSize,
    members: distinct,
    shards,
    shardOf: (peerId) => byMember.get(peerId),
    byName: (name) => byName.get(name),
  };
}

/**
 * The endorsements an intent of a shard of `size` members needs. `majority` is ⌊size/2⌋+1. A
 * count applies as given and must not exceed the shard: it is never capped silently, since a
 * lower quorum than asked would weaken what a commit proves. CONFIG_INVALID naming
 * `consensus.quorum` otherwise.
 */
export function shardQuorum(setting: QuorumSetting, size: number): number {
  if (setting === 'majority') {
    if (size < 1) throw quorumError('majority of an empty shard');
    return Math.floor(size / 2) + 1;
  }
  if (!Number.isInteger(setting) || setting < 1) throw quorumError('must be a positive integer or "majority"');
  if (setting > size) throw quorumError(`${setting} exceeds the shard of ${size} members`);
  return setting;
}

/**
 * Checks that every shard of `plan` can reach its quorum; throws CONFIG_INVALID naming
 * `consensus.quorum` otherwise (a count above the smallest shard, or an empty fleet).
 */
export function checkPlanQuorum(plan: ShardPlan, setting: QuorumSetting): void {
  if (plan.members.length === 0)
    throw new NetSyncError('CONFIG_INVALID', 'consensus.members: the fleet has no members', {
      field: 'consensus.members',
    });
  for (const shard of plan.shards) shardQuorum(setting, shard.members.length);
}

function quorumError(message: string): NetSyncError {
  return new NetSyncError('CONFIG_INVALID', `consensus.quorum: ${message}`, { field: 'consensus.quorum' });
}

/** How many members of `before` sit in another shard (or none) in `after`: the moves a re-plan costs. */
export function movedMembers(before: ShardPlan, after: ShardPlan): number {
  let moved = 0;
  for (const m of before.members) {
    const a = before.shardOf(m);
    const b = after.shardOf(m);
    if (b === undefined) continue; // left the fleet: not a move
    if (a === undefined || a.name !== b.name) moved++;
  }
  return moved;
}
