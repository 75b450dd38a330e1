import { afterEach, describe, expect, test } from 'vitest';
import {
  encodeSignature,
  endorsementBytes,
  type Envelope,
  type HeartbeatEnvelope,
} from '../../../src/core/envelope.js';
import { hasCode } from '../../../src/core/errors.js';
import { payloadDigest } from '../../../src/core/digest.js';
import { MESH_SCORE_THRESHOLDS } from '../../../src/mesh/score-params.js';
import { waitFor } from '../../support/wait-for.js';
import { addrOf, counter, disposeAll, heartbeat, startEvilNode, startNode, type TestNode } from './mesh-fixture.js';

afterEach(disposeAll);

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

const ULID = '01J9ZQ4Y6T8K3M5N7P9R1S2T3V';

async function trio(): Promise<[TestNode, TestNode, TestNode]> {
  const a = await startNode();
  const b = await startNode({ peers: [addrOf(a)] });
  const c = await startNode({ peers: [addrOf(a), addrOf(b)] });
  for (const [x, n] of [
    [a, 2],
    [b, 2],
    [c, 2],
  ] as const) {
    await waitFor(() => x.node.subscribers().length >= n, `${x.node.peerId} sees ${n} subscribers`);
  }
  return [a, b, c];
}

describe('MeshNode over TCP', () => {
  test('three nodes exchange every kind of envelope, signed and counted', async () => {
    const [a, b, c] = await trio();
    const payload = { level: 3, mood: 'calm' };
    const propose: Envelope = {
      schemaVersion: 1,
      kind: 'intent.propose',
      origin: a.node.peerId,
      intents: [
        {
          correlationId: ULID,
          subject: 'root.solar.command.sentiment.set',
          payload,
          payloadDigest: payloadDigest(payload),
          createdAtMs: Date.now(),
          ttlMs: 60_000,
          traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        },
      ],
    };
    await a.node.publish(propose);
    const sig = await b.node.sign(endorsementBytes(ULID, payloadDigest(payload)));
    await b.node.publish({
      schemaVersion: 1,
      kind: 'intent.endorse',
      endorser: b.node.peerId,
      endorsements: [{ correlationId: ULID, payloadDigest: payloadDigest(payload), signature: encodeSignature(sig) }],
    });
    await c.node.publish({
      schemaVersion: 1,
      kind: 'intent.committed',
      committer: c.node.peerId,
      commits: [{ correlationId: ULID, stream: 'CMD', seq: 1 }],
    });
    await c.node.publish(heartbeat(c.node.peerId));

    for (const x of [a, b, c]) {
      const expected = 4 - [a, b, c].filter((p) => p === x).length - (x === c ? 1 : 0);
      await waitFor(() => x.received.length >= expected, `${x.node.peerId} receives ${expected} envelopes`);
    }
    expect(b.received.map((r) => r.envelope.kind).sort()).toEqual(['heartbeat', 'intent.committed', 'intent.propose']);
    expect(a.received.find((r) => r.envelope.kind === 'intent.endorse')?.from).toBe(b.node.peerId);
    expect(a.received.some((r) => r.from === a.node.peerId)).toBe(false); // no self echo
    expect(await a.node.verify(b.node.peerId, endorsementBytes(ULID, payloadDigest(payload)), sig)).toBe(true);
    expect(await a.node.verify(c.node.peerId, endorsementBytes(ULID, payloadDigest(payload)), sig)).toBe(false);
    expect(await counter(b, 'net_sync_gossip_messages_total', { direction: 'in', kind: 'intent.propose' })).toBe(1);
    expect(await counter(a, 'net_sync_gossip_messages_total', { direction: 'out', kind: 'intent.propose' })).toBe(1);
    expect(await a.node.ping(b.node.peerId)).toBeGreaterThanOrEqual(0);
    await waitFor(() => a.node.meshPeers().length === 2, 'a grafts b and c');
  });

  test('mutual static peers dialling at once keep their healthy duplicate connections', async () => {
    const { generateIdentity } = await import('../../../src/mesh/identity.js');
    const [ka, kb] = [await generateIdentity(), await generateIdentity()];
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id');
    const [pa, pb] = [await freePort(), await freePort()];
    const addrA = `/ip4/127.0.0.1/tcp/${pa}/p2p/${peerIdFromPrivateKey(ka).toString()}`;
    const addrB = `/ip4/127.0.0.1/tcp/${pb}/p2p/${peerIdFromPrivateKey(kb).toString()}`;
    // The same shared list on both: each drops its own entry and dials the other.
    const [a, b] = await Promise.all([
      startNode({ key: ka, listen: [`/ip4/127.0.0.1/tcp/${pa}`], peers: [addrA, addrB] }),
      startNode({ key: kb, listen: [`/ip4/127.0.0.1/tcp/${pb}`], peers: [addrA, addrB] }),
    ]);
    await waitFor(
      async () => {
        await a.node.publish(heartbeat(a.node.peerId)).catch(() => undefined);
        return b.received.length > 0;
      },
      'b hears a',
      10_000,
      50,
    );
    await waitFor(
      async () => {
        await b.node.publish(heartbeat(b.node.peerId)).catch(() => undefined);
        return a.received.length > 0;
      },
      'a hears b',
      10_000,
      50,
    );
    expect(await counter(a, 'net_sync_mesh_stale_connections_total')).toBe(0);
    expect(await counter(b, 'net_sync_mesh_stale_connections_total')).toBe(0);
  });

  test('publish failures are MESH_PUBLISH with the cause kept; wrong author is INPUT_INVALID', async () => {
    const lonely = await startNode();
    const err = await lonely.node.publish(heartbeat(lonely.node.peerId)).catch((e: unknown) => e);
    expect(hasCode(err, 'MESH_PUBLISH')).toBe(true);
    expect(String((err as Error).cause)).toContain('NoPeersSubscribedToTopic');
    expect(await counter(lonely, 'net_sync_gossip_publish_failures_total', { reason: 'no-peers' })).toBe(1);
    const other = await lonely.node
      .publish(heartbeat('12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F6LPhWmrsP2uMD'))
      .catch((e: unknown) => e);
    expect(hasCode(other, 'INPUT_INVALID')).toBe(true);
  });

  test('oversized: refused before publish, and rejected by a peer with a smaller limit', async () => {
    const a = await startNode();
    const small = await startNode({ peers: [addrOf(a)], maxEnvelopeBytes: 4_096 });
    const big = await startNode({ peers: [addrOf(a)] });
    await waitFor(() => a.node.subscribers().length === 2, 'a sees both subscribers');
    const roles = Array.from({ length: 16 }, (_, i) => `r${i}`.padEnd(32, 'x'));
    const envelope = (n: number): HeartbeatEnvelope => ({ ...heartbeat(a.node.peerId), roles: roles.slice(0, n) });
    const payload = { blob: 'x'.repeat(8_000) };
    await a.node.publish({
      schemaVersion: 1,
      kind: 'intent.propose',
      origin: a.node.peerId,
      intents: [
        {
          correlationId: ULID,
          subject: 'root.solar.command.x.y',
          payload,
          payloadDigest: payloadDigest(payload),
          createdAtMs: 1,
          ttlMs: 1_000,
          traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        },
      ],
    });
    await waitFor(() => big.received.length === 1, 'the default-limit peer receives the 8 KB intent');
    await waitFor(
      async () => (await counter(small, 'net_sync_gossip_rejected_total', { reason: 'oversized' })) === 1,
      'small peer counts oversized',
    );
    expect(small.received).toHaveLength(0);
    // The sender's own limit: nothing leaves the node.
    const tiny = await startNode({ peers: [addrOf(a)], maxEnvelopeBytes: 200 });
    await waitFor(() => tiny.node.subscribers().length >= 1, 'tiny sees a');
    const err = await tiny.node.publish({ ...envelope(16), peerId: tiny.node.peerId }).catch((e: unknown) => e);
    expect(hasCode(err, 'MESH_PUBLISH')).toBe(true);
    expect(await counter(tiny, 'net_sync_gossip_publish_failures_total', { reason: 'oversized' })).toBe(1);
  });

  test('garbage is rejected and counted, and the sender falls below the graylist threshold', async () => {
    const a = await startNode();
    const evil = await startEvilNode(addrOf(a));
    await waitFor(() => a.node.subscribers().includes(evil.peerId), 'a sees the evil subscriber');
    const junk = [
      'not json',
      '{"schemaVersion":1,"kind":"heartbeat"}',
      '[1,2]',
      '{"schemaVersion":1,"kind":"intent.propose"}',
    ];
    const sendJunk = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await evil.publishRaw(new TextEncoder().encode(junk[i % junk.length]!));
    };
    // Scores are cached for one heartbeat (1 s), so wait for the score, not for the send.
    // 4 invalid messages: -5·4² = -80 (+ at most 10 credit) is below publish, not yet graylisted.
    await sendJunk(4);
    await waitFor(async () => (await counter(a, 'net_sync_gossip_rejected_total')) === 4, '4 rejections counted');
    await waitFor(
      () => a.node.score(evil.peerId) < MESH_SCORE_THRESHOLDS.publishThreshold,
      'score below publish threshold',
      3_000,
    );
    const after4 = a.node.score(evil.peerId);
    expect(after4).toBeGreaterThanOrEqual(MESH_SCORE_THRESHOLDS.graylistThreshold);
    // The fifth graylists it: -125.
    await sendJunk(1);
    await waitFor(
      () => a.node.score(evil.peerId) < MESH_SCORE_THRESHOLDS.graylistThreshold,
      'score below graylist threshold',
      3_000,
    );
    console.log(`garbage: score after 4 invalid ${after4.toFixed(1)}, after 5 ${a.node.score(evil.peerId).toFixed(1)}`);
    expect(await counter(a, 'net_sync_gossip_rejected_total', { reason: 'malformed' })).toBe(3);
    expect(await counter(a, 'net_sync_gossip_rejected_total', { reason: 'schema' })).toBe(2);
    // Graylisted: even a valid envelope from it is no longer processed.
    const rejectedSoFar = await counter(a, 'net_sync_gossip_rejected_total');
    await evil.publishRaw(new TextEncoder().encode(JSON.stringify(heartbeat(evil.peerId))));
    await evil.publishRaw(new TextEncoder().encode('junk again'));
    await new Promise((r) => setTimeout(r, 300)); // absence of delivery: a bounded look, not a wait for a condition
    expect(a.received).toHaveLength(0);
    expect(await counter(a, 'net_sync_gossip_rejected_total')).toBe(rejectedSoFar);
  });
});
