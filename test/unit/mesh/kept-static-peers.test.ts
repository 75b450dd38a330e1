// A fleet member keeps its shard mates and a few others connected, not every static peer.
import { describe, expect, test } from 'vitest';
import { keptStaticPeers } from '../../../src/mesh/mesh-node.js';
import type { StaticPeer } from '../../../src/mesh/static-peers.js';

const ids = Array.from({ length: 40 }, (_, i) => `peer-${String(i).padStart(2, '0')}`);
const statics = (self: string): StaticPeer[] =>
  ids
    .filter((p) => p !== self)
    .map((p) => ({ peerId: p, addr: `/ip4/127.0.0.1/tcp/${4000 + ids.indexOf(p)}/p2p/${p}` }));

describe('keptStaticPeers', () => {
  test('keeps every mate and exactly `bridges` others, the same ones each time', () => {
    const self = ids[0]!;
    const mates = new Set(ids.slice(0, 5));
    const kept = keptStaticPeers(statics(self), self, mates, 2);
    expect(kept.filter((p) => mates.has(p.peerId)).map((p) => p.peerId)).toEqual(ids.slice(1, 5));
    expect(kept.filter((p) => !mates.has(p.peerId))).toHaveLength(2);
    expect(
      keptStaticPeers([...statics(self)].reverse(), self, mates, 2)
        .map((p) => p.peerId)
        .sort(),
    ).toEqual(kept.map((p) => p.peerId).sort());
  });

  test('different members pick different bridges, spread over the fleet', () => {
    const picked = new Map<string, number>();
    for (const self of ids) {
      const mates = new Set([self]);
      for (const p of keptStaticPeers(statics(self), self, mates, 2))
        picked.set(p.peerId, (picked.get(p.peerId) ?? 0) + 1);
    }
    // 80 picks over 40 members: no member is everyone's bridge.
    expect([...picked.values()].reduce((a, b) => a + b, 0)).toBe(80);
    expect(Math.max(...picked.values())).toBeLessThanOrEqual(8);
    expect(picked.size).toBeGreaterThan(20);
  });

  test('fewer static peers than mates and bridges: all of them; 0 bridges: mates only', () => {
    const self = ids[0]!;
    const few = statics(self).slice(0, 3);
    expect(keptStaticPeers(few, self, new Set([self]), 5)).toEqual(few);
    const mates = new Set(ids.slice(0, 3));
    expect(keptStaticPeers(statics(self), self, mates, 0).map((p) => p.peerId)).toEqual(ids.slice(1, 3));
  });
});
