import { describe, expect, test } from 'vitest';
import { rendezvousOwner, ScoutDirectory } from '../../../src/core/scout-ownership.js';

const origins = Array.from({ length: 500 }, (_, i) => `origin-${i}`);
const owners = (scouts: string[]): Map<string, string> => new Map(origins.map((o) => [o, rendezvousOwner(o, scouts)!]));

describe('rendezvous ownership', () => {
  test('spreads origins and is independent of the scouts order', () => {
    const a = owners(['s1', 's2', 's3']);
    expect(owners(['s3', 's1', 's2'])).toEqual(a);
    for (const s of ['s1', 's2', 's3']) expect([...a.values()].filter((x) => x === s).length).toBeGreaterThan(120);
    expect(rendezvousOwner('o', [])).toBeNull();
  });

  test('a leaving scout moves only its own origins; a joining one takes only what it now ranks first for', () => {
    const before = owners(['s1', 's2', 's3']);
    const after = owners(['s1', 's2']);
    for (const o of origins) {
      if (before.get(o) !== 's3') expect(after.get(o), o).toBe(before.get(o));
      else expect(['s1', 's2']).toContain(after.get(o));
    }
    const joined = owners(['s1', 's2', 's3', 's4']);
    let moved = 0;
    for (const o of origins) {
      if (joined.get(o) !== before.get(o)) {
        expect(joined.get(o), o).toBe('s4');
        moved++;
      }
    }
    expect(moved).toBeGreaterThan(70); // ~1/4 of 500
    expect(moved).toBeLessThan(180);
  });
});

describe('ScoutDirectory', () => {
  const HB = 1_000;
  test('a scout is live while heartbeats arrive within 3 intervals', () => {
    const d = new ScoutDirectory(HB, { peerId: 'self', sinceMs: 0 });
    expect(d.heartbeat('b', ['scout'], 0, 10_000)).toBe(true);
    expect(d.heartbeat('b', ['scout'], 0, 11_000)).toBe(false);
    expect(d.live(14_000)).toEqual(['self', 'b']);
    expect(d.live(14_001)).toEqual(['self']);
    expect(d.expire(14_001)).toEqual(['b']);
    expect(d.heartbeat('c', [], 0, 14_001)).toBe(false); // not a scout
  });

  test('a goodbye heartbeat (no scout role) moves its origins at once', () => {
    const d = new ScoutDirectory(HB, { peerId: 'self', sinceMs: 0 });
    d.heartbeat('b', ['scout'], 0, 0);
    const ownedByB = origins.filter((o) => d.owner(o, 0, 0) === 'b');
    expect(ownedByB.length).toBeGreaterThan(100);
    expect(d.heartbeat('b', ['other'], 0, 10)).toBe(true);
    for (const o of ownedByB) expect(d.owner(o, 0, 10)).toBe('self');
  });

  test('only scouts that heard a window from its start may own it (join mid-window)', () => {
    const d = new ScoutDirectory(HB, { peerId: 'self', sinceMs: 1_000 });
    d.heartbeat('late', ['scout'], 5_000, 4_000);
    for (const o of origins.slice(0, 50)) {
      expect(d.owner(o, 4_000, 4_000)).toBe('self');
      expect(['self', 'late']).toContain(d.owner(o, 5_000, 4_000));
    }
    // Nobody eligible yet (start-up): all live scouts share the windows.
    const owners0 = new Set(origins.map((o) => d.owner(o, 0, 4_000)));
    expect(owners0).toEqual(new Set(['self', 'late']));
  });

  test('gone scouts stay known for a while: late or missing heartbeats make a scout doubtful and show as churn', () => {
    const d = new ScoutDirectory(HB, { peerId: 'self', sinceMs: 0 });
    for (let t = 0; t <= 5_000; t += 1_000) d.heartbeat('b', ['scout'], 0, t);
    expect(d.doubtful('b', 2_000, 5_000)).toBe(false);
    expect(d.doubtful('self', 2_000, 5_000)).toBe(false);
    expect(d.churnSince(2_000, 5_000)).toBe(false);
    // A cut: b's heartbeats stop at 5 s; gone after 8 s, and expire reports it once.
    expect(d.doubtful('b', 2_000, 8_001)).toBe(true);
    expect(d.expire(8_001)).toEqual(['b']);
    expect(d.expire(9_000)).toEqual([]);
    expect(d.churnSince(4_000, 9_000)).toBe(true); // went silent around 4 s
    expect(d.churnSince(9_000, 9_000)).toBe(false); // long before 9 s
    // The heal: b is back, steady from 12 s. Windows before that are doubtful, later ones not.
    expect(d.heartbeat('b', ['scout'], 0, 12_000)).toBe(true);
    d.heartbeat('b', ['scout'], 0, 13_000);
    expect(d.doubtful('b', 11_000, 13_000)).toBe(true);
    expect(d.doubtful('b', 12_000, 13_000)).toBe(false);
    expect(d.churnSince(11_000, 13_000)).toBe(true);
    // A late heartbeat (1.6 intervals) without a miss counts as a hiccup too.
    d.heartbeat('b', ['scout'], 0, 14_600);
    expect(d.doubtful('b', 13_000, 14_600)).toBe(true);
    // Forgotten 20 liveness periods after the last heartbeat.
    d.expire(14_600 + 60_001);
    expect(d.doubtful('b', 0, 14_600 + 60_001)).toBe(true);
    expect(d.churnSince(0, 14_600 + 60_001)).toBe(false);
  });
});
