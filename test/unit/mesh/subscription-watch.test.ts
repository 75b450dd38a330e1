// A connected shard mate whose home-topic subscription gossipsub lost is reconnected, after a grace, at most once a cooldown.
import { describe, expect, test } from 'vitest';
import type { Clock } from '../../../src/core/ports.js';
import { SubscriptionWatch } from '../../../src/mesh/subscription-watch.js';
import { silentLogger } from '../../../src/observability/logger.js';

function setup(mates: string[]) {
  let now = 1_000;
  const clock: Clock = { now: () => now, sleep: async () => undefined };
  const state = {
    subscribed: new Set<string>(),
    connected: new Set<string>(mates),
    hungUp: [] as string[],
    repairs: 0,
  };
  const watch = new SubscriptionWatch({
    mates: () => mates,
    connected: (id) => state.connected.has(id),
    subscribers: () => [...state.subscribed],
    hangUp: async (id) => {
      state.hungUp.push(id);
      state.connected.delete(id);
    },
    onRepair: () => state.repairs++,
    clock,
    log: silentLogger(),
    graceMs: 10_000,
    cooldownMs: 30_000,
  });
  const advance = (ms: number): void => {
    now += ms;
  };
  return { watch, state, advance };
}

describe('SubscriptionWatch', () => {
  test('a connected mate missing past the grace is hung up on once, counted; a subscribed one never', async () => {
    const { watch, state, advance } = setup(['a', 'b']);
    state.subscribed.add('a');
    expect(await watch.check()).toEqual([]); // b noted
    advance(9_999);
    expect(await watch.check()).toEqual([]); // within the grace
    advance(1);
    expect(await watch.check()).toEqual(['b']);
    expect(state.hungUp).toEqual(['b']);
    expect(state.repairs).toBe(1);
  });

  test('a mate that subscribes or disconnects within the grace is forgotten', async () => {
    const { watch, state, advance } = setup(['a', 'b']);
    await watch.check();
    advance(5_000);
    state.subscribed.add('a');
    state.connected.delete('b');
    await watch.check();
    advance(20_000);
    state.connected.add('b'); // back: its grace starts again
    expect(await watch.check()).toEqual([]);
    advance(9_000);
    expect(await watch.check()).toEqual([]);
    expect(state.repairs).toBe(0);
  });

  test('repairs of one mate are at least the cooldown apart', async () => {
    const { watch, state, advance } = setup(['a']);
    await watch.check();
    advance(10_000);
    expect(await watch.check()).toEqual(['a']);
    state.connected.add('a'); // redialled, still without its subscription
    await watch.check();
    advance(10_000);
    expect(await watch.check()).toEqual([]); // 10 s after the repair: cooling down
    advance(20_000);
    expect(await watch.check()).toEqual(['a']);
    expect(state.repairs).toBe(2);
  });

  test('a failed hang-up is logged, not thrown, and still counted', async () => {
    let repairs = 0;
    const watch = new SubscriptionWatch({
      mates: () => ['a'],
      connected: () => true,
      subscribers: () => [],
      hangUp: async () => {
        throw new Error('boom');
      },
      onRepair: () => repairs++,
      clock: { now: () => Date.now(), sleep: async () => undefined },
      log: silentLogger(),
      graceMs: 0,
    });
    await watch.check();
    await expect(watch.check()).resolves.toEqual(['a']);
    expect(repairs).toBe(1);
  });
});
