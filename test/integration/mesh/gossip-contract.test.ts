import { afterEach } from 'vitest';
import { describeGossipContract } from '../../support/gossip-contract.js';
import { waitFor } from '../../support/wait-for.js';
import { addrOf, disposeAll, startNode, type TestNode } from './mesh-fixture.js';

afterEach(disposeAll);

describeGossipContract('MeshNode on loopback', async (n) => {
  const nodes: TestNode[] = [];
  for (let i = 0; i < n; i++) nodes.push(await startNode({ peers: nodes.map(addrOf) }));
  for (const t of nodes)
    await waitFor(() => t.node.subscribers().length >= n - 1, `${t.node.peerId} sees ${n - 1} subscribers`);
  return nodes.map((t) => t.node);
});
