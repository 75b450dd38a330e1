/**
 * The `Gossip` port's contract as a shared vitest suite, run against every implementation:
 * MeshNode on loopback in integration, MemoryGossip in unit, so the fake cannot drift.
 */
import { describe, expect, it } from 'vitest';
import { payloadDigest } from '../../src/core/digest.js';
import type { Envelope, HeartbeatEnvelope, ProposeEnvelope } from '../../src/core/envelope.js';
import { hasCode } from '../../src/core/errors.js';
import type { Gossip } from '../../src/core/ports.js';
import { waitFor } from './wait-for.js';

/**
 * Creates `n` nodes that all hear each other, ready to deliver (connected and subscribed);
 * with `n` = 1, a node alone. Disposal is the factory's.
 */
export type GossipFactory = (n: number) => Promise<Gossip[]>;

const ULID = '01J9ZQ4Y6T8K3M5N7P9R1S2T3V';

function heartbeat(peerId: string, roles: string[] = []): HeartbeatEnvelope {
  return { schemaVersion: 1, kind: 'heartbeat', peerId, roles, atMs: Date.now() };
}

function propose(origin: string, payload: unknown, digest = payloadDigest(payload)): ProposeEnvelope {
  return {
    schemaVersion: 1,
    kind: 'intent.propose',
    origin,
    intents: [
      {
        correlationId: ULID,
        subject: 'root.solar.command.contract.set',
        payload: payload as ProposeEnvelope['intents'][number]['payload'],
        payloadDigest: digest,
        createdAtMs: Date.now(),
        ttlMs: 60_000,
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    ],
  };
}

interface Heard {
  envelope: Envelope;
  from: string;
}

function listen(node: Gossip): Heard[] {
  const heard: Heard[] = [];
  node.onEnvelope((envelope, from) => heard.push({ envelope, from }));
  return heard;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (err: unknown) => err,
  );
}

/** Registers the contract suite for one implementation. */
export function describeGossipContract(name: string, factory: GossipFactory): void {
  describe(`Gossip contract: ${name}`, () => {
    it('delivers an envelope to every other node once, from its author, never back to the author', async () => {
      const [a, b, c] = (await factory(3)) as [Gossip, Gossip, Gossip];
      const [atA, atB, atC] = [listen(a), listen(b), listen(c)];
      const sent = heartbeat(a.peerId, ['first']);
      await a.publish(sent);
      await waitFor(() => atB.length > 0 && atC.length > 0, `b and c hear ${a.peerId}`);
      // A later envelope back to a: by the time it arrives, an echo or a second copy would have too.
      await b.publish(heartbeat(b.peerId, ['second']));
      await waitFor(() => atA.length > 0 && atC.length > 1, `a and c hear ${b.peerId}`);
      for (const heard of [atB, atC]) {
        const fromA = heard.filter((h) => h.from === a.peerId);
        expect(fromA.map((h) => h.envelope)).toEqual([sent]);
      }
      expect(atA.map((h) => h.from)).toEqual([b.peerId]);
    });

    it('refuses an envelope naming another author (INPUT_INVALID) or not conforming, sending nothing', async () => {
      const [a, b] = (await factory(2)) as [Gossip, Gossip];
      const atB = listen(b);
      expect(hasCode(await rejection(a.publish(heartbeat(b.peerId))), 'INPUT_INVALID')).toBe(true);
      const malformed = { ...heartbeat(a.peerId), roles: ['Not A Role'] };
      expect(hasCode(await rejection(a.publish(malformed)), 'INPUT_INVALID')).toBe(true);
      await a.publish(heartbeat(a.peerId, ['after']));
      await waitFor(() => atB.length > 0, 'b hears the valid envelope');
      expect(atB.map((h) => (h.envelope as HeartbeatEnvelope).roles)).toEqual([['after']]);
    });

    it('refuses an aborted publish (ABORTED), an oversized envelope and a node alone (MESH_PUBLISH)', async () => {
      const [a] = (await factory(2)) as [Gossip, Gossip];
      const aborted = AbortSignal.abort();
      expect(hasCode(await rejection(a.publish(heartbeat(a.peerId), aborted)), 'ABORTED')).toBe(true);
      const big = propose(a.peerId, { blob: 'x'.repeat(300 * 1024) });
      expect(hasCode(await rejection(a.publish(big)), 'MESH_PUBLISH')).toBe(true);
      const [alone] = (await factory(1)) as [Gossip];
      expect(alone.peers()).toEqual([]);
      expect(hasCode(await rejection(alone.publish(heartbeat(alone.peerId))), 'MESH_PUBLISH')).toBe(true);
    });

    it('receivers drop what their validator refuses (a proposal whose digest does not match)', async () => {
      const [a, b] = (await factory(2)) as [Gossip, Gossip];
      const atB = listen(b);
      await a.publish(propose(a.peerId, { n: 1 }, payloadDigest({ n: 2 })));
      await a.publish(propose(a.peerId, { n: 3 }));
      await waitFor(() => atB.length > 0, 'b hears the valid proposal');
      expect(atB.map((h) => (h.envelope as ProposeEnvelope).intents[0]!.payload)).toEqual([{ n: 3 }]);
    });

    it('lists the other nodes as peers', async () => {
      const [a, b, c] = (await factory(3)) as [Gossip, Gossip, Gossip];
      await waitFor(() => a.peers().length === 2, 'a lists b and c');
      expect([...a.peers()].sort()).toEqual([b.peerId, c.peerId].sort());
      expect(a.peers()).not.toContain(a.peerId);
    });

    it('an unsubscribed listener hears nothing more; a throwing one keeps no other from its envelope', async () => {
      const [a, b] = (await factory(2)) as [Gossip, Gossip];
      const gone: Heard[] = [];
      const off = b.onEnvelope((envelope, from) => gone.push({ envelope, from }));
      b.onEnvelope(() => {
        throw new Error('listener bug');
      });
      const atB = listen(b);
      await a.publish(heartbeat(a.peerId, ['one']));
      await waitFor(() => atB.length === 1 && gone.length === 1, 'both listeners hear the first');
      off();
      await a.publish(heartbeat(a.peerId, ['two']));
      await waitFor(() => atB.length === 2, 'the remaining listener hears the second');
      expect(gone).toHaveLength(1);
    });

    it('signs with its key; verify checks the signer by peer ID, false for anything malformed', async () => {
      const [a, b] = (await factory(2)) as [Gossip, Gossip];
      const bytes = new TextEncoder().encode('endorse 01J9ZQ4Y6T8K3M5N7P9R1S2T3V');
      const sig = await a.sign(bytes);
      expect(sig).toHaveLength(64);
      expect(await b.verify(a.peerId, bytes, sig)).toBe(true);
      expect(await b.verify(b.peerId, bytes, sig)).toBe(false);
      expect(await b.verify(a.peerId, new TextEncoder().encode('another text'), sig)).toBe(false);
      expect(await b.verify(a.peerId, bytes, sig.subarray(0, 63))).toBe(false);
      expect(await b.verify('not-a-peer-id', bytes, sig)).toBe(false);
    });
  });
}
