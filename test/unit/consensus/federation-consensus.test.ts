// Federation events through the consensus driver (docs/federation.md, Sending with consensus on):
// a memory gossip bus with the real validator, MemoryOutbox, a manual clock, and each node's own
// federation key (not its mesh key). The promoted row must be a DSSE envelope carrying a quorum of
// valid signatures by `federation.signers`, over the very bytes the proposer fixed.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsensusDriver } from '../../../src/consensus/consensus-driver.js';
import { createConsensusMetrics, type ConsensusMetrics } from '../../../src/consensus/metrics.js';
import { decodeEnvelope } from '../../../src/core/dsse.js';
import { eventPayloadBytes } from '../../../src/core/federation-message.js';
import { checkThreshold } from '../../../src/core/federation-trust.js';
import type { OutboxRow } from '../../../src/core/intent.js';
import { CohortSigning } from '../../../src/federation/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ed25519Verifier, Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryGossipBus } from '../../support/memory-gossip.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';

const ACME = 'root.solar.federation.outbound.events.acme';
const TP = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
let drivers: ConsensusDriver[] = [];
afterEach(async () => {
  for (const d of drivers.reverse()) await d.stop();
  drivers = [];
});

interface Node {
  driver: ConsensusDriver;
  outbox: MemoryOutbox;
  peerId: string;
  fedKey: string;
  metrics: ConsensusMetrics;
}

/** `n` nodes, quorum `quorum`; `allows(i)` lists node i's send partners; node `rogue` signs with a key not in signers. */
async function cohort(n: number, quorum: number, allows: (i: number) => string[], rogue?: number) {
  const clock = new ManualClock(Date.parse('2026-12-07T10:00:00Z'));
  const bus = await MemoryGossipBus.create(n);
  const peers = bus.nodes.map((g) => g.peerId);
  bus.setCohort(peers);
  const keys = await Promise.all(peers.map(() => generateKeyPair('Ed25519')));
  const fedKeys = keys.map((k) => peerIdFromPrivateKey(k).toString());
  const signers = fedKeys.filter((_, i) => i !== rogue);
  const stream = new Map<string, { seq: number; row: OutboxRow }>();
  const nodes: Node[] = [];
  // As the committer: an `in-flight` row is looked up in the stream first, then published if absent.
  const commit = (node: Node): void => {
    for (const row of node.outbox.listByState(['in-flight'], 100))
      if (!stream.has(row.correlationId))
        node.outbox.markRetry([row.correlationId], 'not found in stream', clock.now());
    const settled = [...node.outbox.listByState(['in-flight'], 100), ...node.outbox.listPublishable(100)].map((row) => {
      const hit = stream.get(row.correlationId) ?? { seq: stream.size + 1, row };
      stream.set(row.correlationId, hit);
      return { correlationId: row.correlationId, stream: 'FEDERATION', seq: hit.seq };
    });
    if (settled.length === 0) return;
    node.outbox.markCommitted(settled, clock.now());
    node.driver.onCommitted(settled);
  };
  for (let i = 0; i < n; i++) {
    const outbox = new MemoryOutbox();
    const metrics = createConsensusMetrics(new Registry());
    const node = { outbox, peerId: peers[i]!, fedKey: fedKeys[i]!, metrics } as Node;
    node.driver = new ConsensusDriver({
      outbox,
      gossip: bus.nodes[i]!,
      clock,
      logger: silentLogger(),
      wakeCommitter: () => queueMicrotask(() => commit(node)),
      emit: () => undefined,
      limits: { prefix: 'root.solar', maxPayloadBytes: 65_536 },
      quorum,
      cohort: peers,
      policy: 'auto',
      ttlMs: 60_000,
      takeoverMs: 3_000,
      agentTimeoutMs: 2_000,
      newId: () => '01JUNUSED000000000000000000',
      randomHex: (b) => 'a'.repeat(b * 2),
      metrics,
      federation: new CohortSigning({
        rules: {
          us: 'org',
          partners: new Map(allows(i).map((p) => [p, ACME.replace('acme', p)])),
          maxTextBytes: 66_560,
        },
        signer: new Ed25519Signer(fedKeys[i]!, keys[i]!.raw),
        verifier: ed25519Verifier,
        signers,
      }),
    });
    node.driver.start();
    drivers.push(node.driver);
    nodes.push(node);
  }
  const step = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      for (let k = 0; k < 10; k++) await new Promise((r) => setImmediate(r));
    }
  };
  const propose = (node: Node, id: string, partner = 'acme') => {
    const text = new TextDecoder().decode(
      eventPayloadBytes({
        schemaVersion: 1,
        eventId: id,
        from: 'org',
        to: partner,
        type: 'order.created',
        payload: { id },
        createdAt: new Date(clock.now()).toISOString(),
        origin: node.peerId,
      }),
    );
    const subject = ACME.replace('acme', partner);
    return {
      text,
      state: node.driver.acceptEvent({
        eventId: id,
        partner,
        subject,
        text,
        traceparent: TP,
        createdAtMs: clock.now(),
      }),
    };
  };
  return { nodes, stream, step, propose, signers, fedKeys, bus };
}

const rejected = async (n: Node): Promise<number> =>
  (await n.metrics.intents.get()).values.find((v) => v.labels.outcome === 'rejected')?.value ?? 0;

describe('federation events through consensus', () => {
  it('commits once a DSSE envelope with a quorum of valid federation-key signatures over the proposed bytes', async () => {
    const c = await cohort(3, 2, () => ['acme']);
    const id = '01JEVENT000000000000000001';
    const { text, state } = c.propose(c.nodes[0]!, id);
    expect(await state).toBe('proposed');
    await c.step(500);
    const stored = c.stream.get(id);
    expect(stored, `${id} committed`).toBeDefined();
    expect(stored!.row.subject).toBe(ACME);
    const d = decodeEnvelope(stored!.row.body);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(new TextDecoder().decode(d.envelope.body)).toBe(text);
    const keyids = d.envelope.signatures.map((s) => s.keyid);
    expect(keyids.length).toBeGreaterThanOrEqual(2);
    for (const k of keyids) expect(c.fedKeys).toContain(k); // federation keys, not mesh peer IDs
    const verdict = await checkThreshold(
      d.envelope,
      c.signers.map((k) => ({ id: k })),
      keyids.length,
      0,
      ed25519Verifier,
    );
    expect(verdict).toMatchObject({ ok: true });
    // Every member's copy is committed at the same place.
    for (const n of c.nodes) expect(n.outbox.get(id)?.state, n.peerId).toBe('committed');
  });

  it('is not endorsed by a member that does not send to the partner: no quorum, never committed', async () => {
    const c = await cohort(3, 2, (i) => (i === 0 ? ['acme', 'gamma'] : ['acme']));
    const id = '01JEVENT000000000000000002';
    expect(await c.propose(c.nodes[0]!, id, 'gamma').state).toBe('proposed');
    await c.step(4_000);
    expect(c.stream.has(id)).toBe(false);
    expect(c.nodes[0]!.outbox.get(id)?.state).toBe('proposed');
    expect(await rejected(c.nodes[1]!)).toBe(1);
    expect(c.nodes[1]!.outbox.get(id)).toBeUndefined();
  });

  it('drops at promotion an endorsement whose DSSE key is not in federation.signers', async () => {
    const c = await cohort(3, 3, () => ['acme'], 2);
    const id = '01JEVENT000000000000000003';
    await c.propose(c.nodes[0]!, id).state;
    await c.step(8_000);
    expect(c.stream.has(id), 'quorum 3 needs the rogue signature').toBe(false);
    let bad = 0;
    for (const n of c.nodes) bad += (await n.metrics.badEndorsements!.get()).values[0]?.value ?? 0;
    expect(bad).toBeGreaterThan(0);
    // With quorum 2 the two good signatures commit it, and the rogue key is not on the envelope.
    const d = await cohort(3, 2, () => ['acme'], 2);
    await d.propose(d.nodes[0]!, id).state;
    await d.step(8_000);
    const stored = d.stream.get(id);
    expect(stored, `${id} committed`).toBeDefined();
    const env = decodeEnvelope(stored!.row.body);
    expect(env.ok && env.envelope.signatures.map((s) => s.keyid).includes(d.fedKeys[2]!)).toBe(false);
  });

  it('with an incomplete set of endorsements, waits a takeover step before promoting (every node ranks one set)', async () => {
    const c = await cohort(3, 2, () => ['acme']);
    c.bus.partition([c.bus.nodes[0]!, c.bus.nodes[1]!], [c.bus.nodes[2]!]);
    const id = '01JEVENT000000000000000004';
    await c.propose(c.nodes[0]!, id).state;
    // Quorum (2 of 3) is held within a few gossip batches; a command would be promoted then.
    await c.step(1_000);
    expect(c.stream.has(id), 'promoted before the third endorsement could arrive').toBe(false);
    await c.step(3_000); // takeoverMs 3 s: the step passed, still 2 of 3, promoted
    expect(c.stream.has(id), `${id} committed`).toBe(true);
  });
});
