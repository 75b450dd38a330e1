import { describe, expect, it } from 'vitest';
import { cohortMembership, endorsesIn, planMembership } from '../../../src/core/membership.js';
import { hasCode } from '../../../src/core/errors.js';
import {
  checkPlanQuorum,
  movedMembers,
  planShards,
  shardCount,
  shardQuorum,
  shardTopic,
  type ShardPlan,
} from '../../../src/core/shards.js';
import { seededRandom } from '../../support/seeded-random.js';

const ids = (n: number, tag = 'm'): string[] =>
  Array.from({ length: n }, (_, i) => `12D3KooW${tag}${i.toString().padStart(4, '0')}`);

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const random = seededRandom(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const grouping = (plan: ShardPlan): string[][] => plan.shards.map((s) => [...s.members]);

describe('planShards', () => {
  it('20 members of size 5 form four shards of 5', () => {
    const plan = planShards(ids(20), 5);
    expect(plan.shards.map((s) => s.members.length)).toEqual([5, 5, 5, 5]);
    expect(plan.shards.map((s) => s.name)).toEqual(['shard-0-of-4', 'shard-1-of-4', 'shard-2-of-4', 'shard-3-of-4']);
  });

  it('fewer than twice the size form one shard of everyone', () => {
    for (const n of [1, 3, 7, 13]) {
      const plan = planShards(ids(n), 7);
      expect(plan.shards.length, `n=${n}`).toBe(1);
      expect(plan.shards[0]!.members, `n=${n}`).toEqual([...ids(n)].sort());
    }
    expect(shardCount(0, 7)).toBe(1);
    expect(planShards([], 7).shards).toEqual([{ name: 'shard-0-of-1', index: 0, members: [] }]);
  });

  it('forms max(1, ⌊n/size⌋) shards whose sizes differ by at most 1, covering every member once', () => {
    for (let n = 1; n <= 60; n++) {
      for (const size of [3, 5, 7]) {
        const plan = planShards(ids(n), size);
        const sizes = plan.shards.map((s) => s.members.length);
        expect(plan.shards.length, `n=${n} size=${size}`).toBe(Math.max(1, Math.floor(n / size)));
        expect(Math.max(...sizes) - Math.min(...sizes), `n=${n} size=${size}`).toBeLessThanOrEqual(1);
        if (n >= size) expect(Math.min(...sizes), `n=${n} size=${size}`).toBeGreaterThanOrEqual(size);
        expect(plan.shards.flatMap((s) => s.members).sort(), `n=${n} size=${size}`).toEqual(ids(n).sort());
        for (const s of plan.shards) for (const m of s.members) expect(plan.shardOf(m)).toBe(s);
      }
    }
  });

  it('is the same whatever the order of the list and its duplicates', () => {
    const members = ids(37);
    const reference = grouping(planShards(members, 5));
    for (let seed = 1; seed <= 10; seed++) {
      const list = shuffled([...members, ...members.slice(0, seed)], seed);
      expect(grouping(planShards(list, 5)), `seed ${seed}`).toEqual(reference);
    }
  });

  it('spreads members by hash, not by sorted position', () => {
    const plan = planShards(ids(40), 5);
    // Sorted chunking would put m0000..m0004 together; rendezvous scatters neighbours.
    expect(plan.shards.some((s) => s.members.join() === ids(5).join())).toBe(false);
  });

  it('moves few members when one joins or leaves and the shard count stays', () => {
    let joins = 0;
    let leaves = 0;
    let movedOnJoin = 0;
    let movedOnLeave = 0;
    let worst = 0;
    for (const [n, size] of [
      [20, 5],
      [23, 5],
      [41, 7],
      [64, 7],
      [100, 7],
    ] as const) {
      const members = ids(n);
      const before = planShards(members, size);
      for (let t = 0; t < 20; t++) {
        const joined = planShards([...members, `12D3KooWjoin${t}`], size);
        if (joined.shards.length === before.shards.length) {
          const moved = movedMembers(before, joined);
          movedOnJoin += moved;
          joins++;
          worst = Math.max(worst, moved);
        }
        const left = planShards(
          members.filter((_, i) => i !== (t * 7) % n),
          size,
        );
        if (left.shards.length === before.shards.length) {
          const moved = movedMembers(before, left);
          movedOnLeave += moved;
          leaves++;
          worst = Math.max(worst, moved);
        }
      }
    }
    // Measured: means ≈ 1.5 (join) and ≈ 1.6 (leave), worst 6 of 100; sorted chunking moves ~n/2.
    expect(joins).toBeGreaterThan(40);
    expect(leaves).toBeGreaterThan(40);
    expect(movedOnJoin / joins).toBeLessThan(3);
    expect(movedOnLeave / leaves).toBeLessThan(3);
    expect(worst).toBeLessThanOrEqual(8);
  });

  it('refuses a shard size that is not a positive integer', () => {
    for (const bad of [0, -1, 2.5]) {
      let err: unknown;
      try {
        planShards(ids(3), bad);
      } catch (e) {
        err = e;
      }
      expect(hasCode(err, 'CONFIG_INVALID') && err.field).toBe('consensus.shardSize');
    }
  });

  it('names shard topics under the fleet topic', () => {
    const plan = planShards(ids(10), 5);
    expect(shardTopic('/root-solar/sentiment/1.0.0', plan.shards[1]!)).toBe('/root-solar/sentiment/1.0.0/shard-1-of-2');
    expect(plan.byName('shard-1-of-2')).toBe(plan.shards[1]);
    expect(plan.byName('shard-1-of-3')).toBeUndefined();
  });
});

describe('quorum per shard', () => {
  it('majority is ⌊size/2⌋+1 of the shard; a count applies as given', () => {
    expect(shardQuorum('majority', 5)).toBe(3);
    expect(shardQuorum('majority', 6)).toBe(4);
    expect(shardQuorum('majority', 7)).toBe(4);
    expect(shardQuorum(3, 7)).toBe(3);
  });

  it('refuses a count above the shard, never capping it, naming consensus.quorum', () => {
    for (const bad of [() => shardQuorum(6, 5), () => shardQuorum(0, 5), () => shardQuorum('majority', 0)]) {
      let err: unknown;
      try {
        bad();
      } catch (e) {
        err = e;
      }
      expect(hasCode(err, 'CONFIG_INVALID') && err.field).toBe('consensus.quorum');
    }
    expect(() => checkPlanQuorum(planShards(ids(4), 7), 5)).toThrow(/exceeds the shard of 4/);
    expect(() => checkPlanQuorum(planShards([], 7), 'majority')).toThrow(/no members/);
    expect(() => checkPlanQuorum(planShards(ids(20), 5), 5)).not.toThrow();
  });
});

describe('memberships', () => {
  it('a plan: a member is endorsed by its home shard only; a non-member by none', () => {
    const plan = planShards(ids(20), 5);
    const m = planMembership(plan, 'majority');
    const home = plan.shards[2]!;
    const shard = m.shardOf(home.members[0]!)!;
    expect(shard).toMatchObject({ name: home.name, quorum: 3 });
    expect(endorsesIn(shard, home.members[4]!)).toBe(true);
    expect(endorsesIn(shard, plan.shards[1]!.members[0]!)).toBe(false);
    expect(m.shardOf('12D3KooWoutsider')).toBeUndefined();
  });

  it('a cohort: one unnamed shard of all; open membership when empty', () => {
    const cohort = ids(5);
    const m = cohortMembership(cohort, 'majority');
    expect(m.shardOf(cohort[0]!)).toMatchObject({ name: null, quorum: 3 });
    expect(m.shardOf('12D3KooWoutsider')).toBeUndefined();
    const open = cohortMembership([], 2);
    expect(endorsesIn(open.shardOf('anyone')!, 'anyone-else')).toBe(true);
  });
});
