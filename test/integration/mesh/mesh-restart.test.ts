import { afterEach, describe, expect, test } from 'vitest';
import { waitFor } from '../../support/wait-for.js';
import { addrOf, disposeAll, heartbeat, startNode, type TestNode } from './mesh-fixture.js';

afterEach(disposeAll);

/** Publishes a heartbeat from `t` every `everyMs` until stopped; publish errors (no peers yet) are expected. */
function keepPublishing(t: TestNode, everyMs = 25): () => void {
  let on = true;
  void (async () => {
    while (on) {
      await t.node.publish(heartbeat(t.node.peerId)).catch(() => undefined);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return () => {
    on = false;
  };
}

const portOf = (addr: string): string => addr.split('/')[4]!;

describe('MeshNode restart with the same key', () => {
  test('a restarted node rejoins and receives new gossip (5 runs, max reported)', async () => {
    const a = await startNode();
    const c = await startNode({ peers: [addrOf(a)] });
    let b = await startNode({ peers: [addrOf(a), addrOf(c)] });
    const listen = [`/ip4/127.0.0.1/tcp/${portOf(addrOf(b))}`];
    await waitFor(() => a.node.subscribers().length === 2 && c.node.subscribers().length === 2, 'mesh of three formed');
    const stopA = keepPublishing(a);
    const rejoinMs: number[] = [];
    try {
      for (let run = 1; run <= 5; run++) {
        await b.node.stop();
        await waitFor(() => !a.node.peers().includes(b.node.peerId), `run ${run}: a notices b left`);
        const t0 = Date.now();
        b = await startNode({ key: b.key, listen, peers: [addrOf(a), addrOf(c)] });
        await waitFor(
          () => b.received.some((r) => r.from === a.node.peerId),
          `run ${run}: restarted b receives a's gossip`,
          10_000,
          5,
        );
        rejoinMs.push(Date.now() - t0);
        // The other direction: a and c learned b's new subscription.
        const before = a.received.length;
        await waitFor(
          async () => {
            await b.node.publish(heartbeat(b.node.peerId)).catch(() => undefined);
            return a.received.slice(before).some((r) => r.from === b.node.peerId);
          },
          `run ${run}: a receives the restarted b`,
          10_000,
          25,
        );
        await waitFor(
          () => c.received.some((r) => r.from === b.node.peerId && r.atMs >= t0),
          `run ${run}: c receives the restarted b`,
        );
      }
    } finally {
      stopA();
    }
    console.log(`rejoin (start() to first gossip received) ms: ${rejoinMs.join(', ')}; max ${Math.max(...rejoinMs)}`);
    expect(Math.max(...rejoinMs)).toBeLessThan(3_000);
  });

  test('static peer redial: a node that only others know is dialled again when it comes back', async () => {
    let b = await startNode();
    const bAddr = addrOf(b);
    const a = await startNode({ peers: [bAddr], redialBackoff: { baseMs: 200, maxMs: 1_000, minMs: 50 } });
    await waitFor(() => a.node.peers().includes(b.node.peerId), 'a dials b');
    await b.node.stop();
    await waitFor(() => !a.node.peers().includes(b.node.peerId), 'a notices b left');
    // Let a fail a few dials so it is in backoff when b returns.
    await waitFor(async () => (await counterOf(a, 'failed')) >= 3, 'a failed 3 redials');
    const t0 = Date.now();
    b = await startNode({ key: b.key, listen: [`/ip4/127.0.0.1/tcp/${portOf(bAddr)}`] });
    const stopB = keepPublishing(b);
    try {
      await waitFor(
        () => a.received.some((r) => r.from === b.node.peerId && r.atMs >= t0),
        'a receives the returned b',
        10_000,
        5,
      );
    } finally {
      stopB();
    }
    const ms = Date.now() - t0;
    console.log(`static redial: returned peer's gossip received after ${ms} ms (backoff max 1 s)`);
    expect(ms).toBeLessThan(3_000);
  });
});

async function counterOf(t: TestNode, outcome: string): Promise<number> {
  const m = (await t.registry.getMetricsAsJSON()).find((x) => x.name === 'net_sync_mesh_redials_total');
  return ((m as unknown as { values: Array<{ value: number; labels: { outcome?: string } }> }).values ?? [])
    .filter((v) => v.labels.outcome === outcome)
    .reduce((s, v) => s + v.value, 0);
}
