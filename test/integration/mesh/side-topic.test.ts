// A topic joined beside the fleet topic (the telemetry topic, docs/telemetry.md): its envelopes
// reach only its own listeners, and a node that never joined it neither hears nor validates them.
import { afterEach, describe, expect, test } from 'vitest';
import type { Envelope } from '../../../src/core/envelope.js';
import { telemetryTopic } from '../../../src/core/shards.js';
import { waitFor } from '../../support/wait-for.js';
import { addrOf, counter, disposeAll, heartbeat, startNode, TOPIC } from './mesh-fixture.js';

afterEach(disposeAll);

describe('MeshNode.joinTopic', () => {
  test('envelopes on a joined topic reach its listeners only, and nobody who did not join it', async () => {
    const a = await startNode();
    const b = await startNode({ peers: [addrOf(a)] });
    const c = await startNode({ peers: [addrOf(a), addrOf(b)] });
    const topic = telemetryTopic(TOPIC);
    const onA = a.node.joinTopic(topic);
    const onB = b.node.joinTopic(topic);
    const heardB: Envelope[] = [];
    onB.onEnvelope((env) => heardB.push(env));
    await waitFor(() => onA.peers().includes(b.node.peerId), 'a sees b on the joined topic');
    await waitFor(() => a.node.subscribers().length >= 2, 'a sees both on the fleet topic');
    expect(onA.peers()).not.toContain(c.node.peerId);

    await onA.publish(heartbeat(a.node.peerId));
    await waitFor(() => heardB.length === 1, 'b hears the heartbeat on the joined topic');
    // A moment for any stray copy: none reaches the fleet topic's listeners, nor c.
    await new Promise((r) => setTimeout(r, 300));
    expect(b.received).toHaveLength(0);
    expect(c.received).toHaveLength(0);
    expect(await counter(c, 'net_sync_gossip_messages_total', { direction: 'in', kind: 'heartbeat' })).toBe(0);
    expect(await counter(b, 'net_sync_gossip_messages_total', { direction: 'in', kind: 'heartbeat' })).toBe(1);
  });
});
