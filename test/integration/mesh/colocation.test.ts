// Acceptance, many sidecars behind one address (docs/fleet.md): gossipsub's IP-colocation penalty
// (more than 10 peers from one IP) is refunded to members, and kept for non-members. Real libp2p
// nodes on 127.0.0.1: twelve peers dial one node, whose score of each is read back.
import { afterEach, describe, expect, test } from 'vitest';
import { generateIdentity, identityPeerId } from '../../../src/mesh/identity.js';
import { waitFor } from '../../support/wait-for.js';
import { addrOf, disposeAll, startNode } from './mesh-fixture.js';

afterEach(disposeAll);

describe('IP colocation', () => {
  test('members on a crowded address keep their score; non-members are penalised', async () => {
    const keys = await Promise.all(Array.from({ length: 12 }, () => generateIdentity()));
    const ids = keys.map(identityPeerId);
    const members = new Set(ids.slice(0, 8));
    const hub = await startNode({ colocationExempt: (p) => members.has(p) });
    for (const key of keys) await startNode({ key, peers: [addrOf(hub)] });
    await waitFor(() => hub.node.peers().length === 12, 'the hub to hold 12 peers on 127.0.0.1', 30_000, 50);
    // 12 peers on one IP: P6 = -5 × (12 - 10)² = -20 for everyone not exempt, once scores refresh.
    // Scores and the refund's count of peers per IP are each cached about a heartbeat: wait for both.
    await waitFor(
      () => ids.slice(8).every((p) => hub.node.score(p) <= -19) && ids.slice(0, 8).every((p) => hub.node.score(p) > -1),
      'non-members scored at most -19 and members above -1',
      15_000,
      100,
    );
    for (const p of ids.slice(0, 8)) expect(hub.node.score(p), `score of member ${p}`).toBeGreaterThan(-1);
    for (const p of ids.slice(8)) expect(hub.node.score(p), `score of non-member ${p}`).toBeLessThanOrEqual(-19);
  });
});
