import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/core/errors.js';
import { planShards } from '../../../src/core/shards.js';
import { FleetMembership, meshNeeded, ShardHealth, type Replan } from '../../../src/fleet/index.js';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `12D3KooWmember${String(i).padStart(3, '0')}`);
const BASE = '/root-solar/sentiment/1.0.0';

function membership(members: string[], self = members[0]!, quorum: number | 'majority' = 'majority') {
  return new FleetMembership({ self, members, shardSize: 5, quorum, baseTopic: BASE });
}

describe('FleetMembership', () => {
  it('gives each member its home shard, topic and quorum; a non-member none', () => {
    const m = membership(ids(20));
    const home = m.home()!;
    expect(home.members).toContain(ids(20)[0]);
    expect(m.homeTopic()).toEqual({ topic: `${BASE}/${home.name}`, members: home.members });
    expect(m.shardOf(home.members[1]!)).toMatchObject({ name: home.name, quorum: 3 });
    expect(m.isMember('12D3KooWstranger')).toBe(false);
    expect(m.shardOf('12D3KooWstranger')).toBeUndefined();
    const outsider = membership(ids(20), '12D3KooWstranger');
    expect(outsider.home()).toBeUndefined();
    expect(outsider.homeTopic()).toBeNull();
  });

  it('re-plans on update and tells listeners; an unchanged list is no change', () => {
    const m = membership(ids(20));
    const heard: Replan[] = [];
    m.onChange((r) => heard.push(r));
    expect(m.update([...ids(20)].reverse()).changed).toBe(false);
    const r = m.update([...ids(20), '12D3KooWnewcomer']);
    expect(r).toMatchObject({ changed: true, members: 21, shards: 4 });
    expect(r.moved).toBeLessThanOrEqual(3);
    expect(heard).toEqual([r]);
    expect(m.members).toHaveLength(21);
  });

  it('refuses a list whose shards could not reach the quorum, keeping the current plan', () => {
    expect(() => membership(ids(3), ids(3)[0], 5)).toThrow(/consensus\.quorum/);
    const m = membership(ids(10), ids(10)[0], 5);
    let err: unknown;
    try {
      m.update(ids(9)); // one shard of 9: fine
      m.update(ids(4)); // one shard of 4 < 5
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'CONFIG_INVALID') && err.field).toBe('consensus.quorum');
    expect(m.members).toHaveLength(9);
  });
});

describe('ShardHealth', () => {
  it('counts this node and the mates on the shard topic against the quorum, and says why it is not ready', () => {
    const members = ids(10);
    const m = membership(members);
    const home = m.home()!;
    const mates = home.members.filter((p) => p !== members[0]);
    let subscribers: string[] = [...mates, planShards(members, 5).shards.find((s) => s !== home)!.members[0]!];
    const health = new ShardHealth({ membership: m, self: members[0]!, subscribers: () => subscribers });
    expect(health.status()).toEqual({
      name: home.name,
      members: [...home.members],
      connectedMembers: 5,
      quorum: 3,
      quorumReachable: true,
    });
    expect(health.readiness()).toBe(true);
    subscribers = mates.slice(0, 1);
    expect(health.status()).toMatchObject({ connectedMembers: 2, quorumReachable: false });
    expect(health.readiness()).toBe(`${home.name}: 2 of 5 members connected, quorum 3; intents wait`);
    const outsider = new ShardHealth({
      membership: membership(members, '12D3KooWstranger'),
      self: '12D3KooWstranger',
      subscribers: () => [],
    });
    expect(outsider.readiness()).toMatch(/not a member/);
  });

  it('with the home mesh read, waits for quorum − 1 grafted mates (at most 4) before it is ready', () => {
    const members = ids(10);
    const m = membership(members);
    const home = m.home()!;
    const mates = home.members.filter((p) => p !== members[0]);
    let grafted: string[] = [];
    const health = new ShardHealth({
      membership: m,
      self: members[0]!,
      subscribers: () => mates,
      meshPeers: () => grafted,
    });
    expect(health.status()).toMatchObject({ connectedMembers: 5, quorumReachable: true });
    expect(health.readiness()).toBe(`${home.name}: home mesh forming, 0 of 2 mates grafted; intents wait`);
    const stranger = planShards(members, 5).shards.find((s) => s.name !== home.name)!.members[0]!;
    grafted = [mates[0]!, stranger];
    expect(health.readiness()).toMatch(/1 of 2 mates grafted/);
    grafted = mates.slice(0, 2);
    expect(health.readiness()).toBe(true);
    expect([1, 2, 3, 5, 9].map(meshNeeded)).toEqual([0, 1, 2, 4, 4]);
  });
});
