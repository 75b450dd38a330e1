// Acceptance, security (docs/operations.md): with `consensus.cohort` set, gossip from a peer outside the
// cohort is ignored (never delivered, never forwarded) and counted by reason; cohort members
// are heard as usual. Real libp2p nodes on loopback.
import { afterEach, describe, expect, test } from 'vitest';
import { generateIdentity, identityPeerId } from '../../../src/mesh/identity.js';
import { waitFor } from '../../support/wait-for.js';
import { addrOf, counter, disposeAll, heartbeat, startNode } from './mesh-fixture.js';

afterEach(disposeAll);

describe('cohort allowlist', () => {
  test('a peer outside the cohort is ignored and counted; a member is delivered', async () => {
    const [keyA, keyB] = [await generateIdentity(), await generateIdentity()];
    const cohort = [identityPeerId(keyA), identityPeerId(keyB)];
    const a = await startNode({ key: keyA, cohort });
    const b = await startNode({ key: keyB, cohort, peers: [addrOf(a)] });
    const outsider = await startNode({ peers: [addrOf(a)] });
    for (const [x, n] of [
      [a, 2],
      [outsider, 1],
    ] as const) {
      await waitFor(() => x.node.subscribers().length >= n, `${x.node.peerId} sees ${n} subscribers`, 15_000);
    }

    // Gossip is best effort while the mesh forms: publish until a member's heartbeat lands.
    await waitFor(
      async () => {
        await outsider.node.publish(heartbeat(outsider.node.peerId)).catch(() => undefined);
        await b.node.publish(heartbeat(b.node.peerId)).catch(() => undefined);
        return (
          a.received.some((r) => r.from === b.node.peerId) &&
          (await counter(a, 'net_sync_gossip_rejected_total', { reason: 'not-in-cohort' })) > 0
        );
      },
      'a member heard and an outsider refused',
      15_000,
      100,
    );

    expect(
      a.received.filter((r) => r.from === outsider.node.peerId),
      `envelopes from ${outsider.node.peerId}`,
    ).toEqual([]);
    // Ignored, not forwarded: b (a member, connected only to a) never hears the outsider either.
    expect(b.received.filter((r) => r.from === outsider.node.peerId)).toEqual([]);
    expect(await counter(a, 'net_sync_gossip_messages_total', { direction: 'in', kind: 'heartbeat' })).toBeGreaterThan(
      0,
    );
  });
});
