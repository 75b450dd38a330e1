import { describe, expect, test } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.js';
import { StaticPeerKeeper } from '../../../src/mesh/static-peers.js';
import { ManualClock } from '../../support/manual-clock.js';
import { waitFor } from '../../support/wait-for.js';

function keeper(clock: ManualClock, dial: (addr: string) => Promise<void>, connected: Set<string>) {
  return new StaticPeerKeeper({
    peers: [{ peerId: 'P', addr: '/ip4/127.0.0.1/tcp/1/p2p/P' }],
    dial: async (addr) => {
      await dial(addr);
      connected.add('P');
    },
    isConnected: (id) => connected.has(id),
    backoff: { baseMs: 100, maxMs: 1_000, minMs: 10 },
    dialTimeoutMs: 5_000,
    checkIntervalMs: 5_000,
    clock,
    log: silentLogger(),
    random: () => 0.999, // the top of each jitter range: delays are predictable
  });
}

describe('StaticPeerKeeper', () => {
  test('redials with capped exponential backoff until the peer answers, then waits', async () => {
    const clock = new ManualClock();
    const connected = new Set<string>();
    let failures = 6;
    const dials: number[] = [];
    const k = keeper(
      clock,
      async () => {
        dials.push(clock.now());
        if (failures-- > 0) throw new Error('ECONNREFUSED');
      },
      connected,
    );
    k.start();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      await waitFor(() => clock.sleeping === 1, `backoff sleep ${i}`);
      const before = dials.length;
      // Advance in 1 ms steps until the next dial happens: that is the delay used.
      let waited = 0;
      while (dials.length === before) {
        clock.advance(1);
        waited++;
        await Promise.resolve();
        await new Promise((r) => setImmediate(r));
      }
      delays.push(waited);
    }
    expect(delays).toEqual([99, 199, 399, 799, 999, 999]);
    await waitFor(() => connected.has('P') && clock.sleeping === 1, 'connected and waiting for a disconnect');
    await k.stop();
    await k.stop();
    expect(clock.sleeping).toBe(0);
  });

  test('a disconnect wakes the loop to redial at once; stop cancels', async () => {
    const clock = new ManualClock();
    const connected = new Set<string>();
    let dials = 0;
    const k = keeper(
      clock,
      async () => {
        dials++;
      },
      connected,
    );
    k.start();
    await waitFor(() => dials === 1 && clock.sleeping === 1, 'first dial, then waiting');
    connected.delete('P');
    k.notifyDisconnected('P');
    await waitFor(() => dials === 2, 'redial right after the disconnect, without advancing time');
    // A disconnect reported while not waiting is not lost.
    connected.delete('P');
    k.notifyDisconnected('P');
    await waitFor(() => dials === 3, 'redial after a missed wake');
    await k.stop();
  });
  test('a peer added at run time (a shard mate) gets its own loop, once; none after stop', async () => {
    const clock = new ManualClock();
    const connected = new Set<string>();
    const dialled: string[] = [];
    const k = new StaticPeerKeeper({
      peers: [],
      dial: async (addr) => {
        dialled.push(addr);
        connected.add(addr.split('/p2p/')[1]!);
      },
      isConnected: (id) => connected.has(id),
      backoff: { baseMs: 100, maxMs: 1_000, minMs: 10 },
      dialTimeoutMs: 5_000,
      checkIntervalMs: 5_000,
      clock,
      log: silentLogger(),
    });
    const mate = { peerId: 'M', addr: '/ip4/127.0.0.1/tcp/2/p2p/M' };
    k.add(mate); // before start: ignored
    expect(k.keeps('M')).toBe(false);
    k.start();
    k.add(mate);
    k.add(mate);
    expect(k.keeps('M')).toBe(true);
    await waitFor(() => connected.has('M') && clock.sleeping === 1, 'the mate dialled and watched');
    expect(dialled).toEqual([mate.addr]);
    await k.stop();
    k.add({ peerId: 'N', addr: '/ip4/127.0.0.1/tcp/3/p2p/N' });
    expect(k.keeps('N')).toBe(false);
  });
});
