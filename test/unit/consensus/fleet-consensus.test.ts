// The consensus driver in a fleet (docs/fleet.md): six members in two home shards of 3, quorum
// majority (2), all on one memory bus, so that the driver's own rule is tested without the mesh's
// topic separation: a member endorses only its own shard's intents, an endorsement from another
// shard never counts, and a re-plan moves an open intent to its proposer's new shard.
import { afterEach, describe, expect, it } from 'vitest';
import { ConsensusDriver } from '../../../src/consensus/consensus-driver.js';
import { type CommandBody, HEADER } from '../../../src/core/command-message.js';
import { verifyCommit } from '../../../src/core/commit-verification.js';
import { payloadDigest } from '../../../src/core/digest.js';
import { ENVELOPE_SCHEMA_VERSION, encodeSignature, endorsementBytes } from '../../../src/core/envelope.js';
import type { OutboxRow } from '../../../src/core/intent.js';
import { FleetMembership } from '../../../src/fleet/fleet-membership.js';
import { verifyPeerSignature } from '../../../src/mesh/peer-signature.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryGossipBus, type MemoryGossip } from '../../support/memory-gossip.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';

const SUBJECT = 'root.solar.command.sentiment.set';
const decoder = new TextDecoder();

interface Node {
  gossip: MemoryGossip;
  outbox: MemoryOutbox;
  driver: ConsensusDriver;
  fleet: FleetMembership;
}

let drivers: ConsensusDriver[] = [];
afterEach(async () => {
  for (const d of drivers.reverse()) await d.stop();
  drivers = [];
});

async function fleet(n: number, shardSize: number) {
  const clock = new ManualClock();
  const bus = await MemoryGossipBus.create(n);
  const members = bus.nodes.map((g) => g.peerId);
  bus.setCohort(members);
  const stream = new Map<string, OutboxRow>();
  let idSeq = 0;
  const nodes: Node[] = bus.nodes.map((gossip) => {
    const outbox = new MemoryOutbox();
    const membership = new FleetMembership({
      self: gossip.peerId,
      members,
      shardSize,
      quorum: 'majority',
      baseTopic: '/t',
    });
    const node = { gossip, outbox, fleet: membership } as Node;
    node.driver = new ConsensusDriver({
      outbox,
      gossip,
      clock,
      logger: silentLogger(),
      // A committer that publishes every publishable row to the one shared stream, once per ID.
      wakeCommitter: () =>
        queueMicrotask(() => {
          const rows = [...outbox.listPublishable(1_000), ...outbox.listByState(['in-flight'], 1_000)];
          for (const row of rows) if (!stream.has(row.correlationId)) stream.set(row.correlationId, row);
          const settled = rows.map((r) => ({ correlationId: r.correlationId, stream: 'CMD', seq: 1 }));
          if (settled.length === 0) return;
          outbox.markCommitted(settled, clock.now());
          node.driver.onCommitted(settled);
        }),
      emit: () => undefined,
      limits: { prefix: 'root.solar', maxPayloadBytes: 65_536 },
      membership,
      policy: 'auto',
      ttlMs: 60_000,
      takeoverMs: 500,
      agentTimeoutMs: 2_000,
      newId: () => `01J${String(++idSeq).padStart(23, '0')}`,
      randomHex: (b) => 'a'.repeat(b * 2),
    });
    node.driver.start();
    drivers.push(node.driver);
    membership.onChange(() => node.driver.replanned());
    return node;
  });
  const step = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    }
  };
  const shardOf = (node: Node) => nodes.filter((m) => node.fleet.home()!.members.includes(m.gossip.peerId));
  return { bus, nodes, members, stream, step, shardOf };
}

const bodyOf = (row: OutboxRow): CommandBody => JSON.parse(decoder.decode(row.body)) as CommandBody;

describe('ConsensusDriver in a fleet', () => {
  it('commits each intent with endorsers of its proposer’s shard only, naming the shard', async () => {
    const f = await fleet(6, 3);
    for (const node of f.nodes) await node.driver.accept({ subject: SUBJECT, payload: { from: node.gossip.peerId } });
    await f.step(1_500);
    expect(f.stream.size).toBe(6);
    for (const row of f.stream.values()) {
      const body = bodyOf(row);
      const proposer = f.nodes.find((n) => n.gossip.peerId === body.origin)!;
      const home = proposer.fleet.home()!;
      expect(body.shard, `shard of ${row.correlationId}`).toBe(home.name);
      expect(row.headers[HEADER.shard]).toBe(home.name);
      for (const e of body.endorsements) expect(home.members, `endorser of ${row.correlationId}`).toContain(e.peerId);
      const v = await verifyCommit(
        { body: row.body, headers: { ...row.headers, [HEADER.msgId]: row.correlationId } },
        { verify: verifyPeerSignature, members: f.members, shardSize: 3, quorum: 'majority' },
      );
      expect(v.problems, `verification of ${row.correlationId}`).toEqual([]);
    }
  });

  it('an endorsement from another shard’s member never counts', async () => {
    const f = await fleet(6, 3);
    const proposer = f.nodes[0]!;
    const mates = f.shardOf(proposer).filter((m) => m !== proposer);
    const others = f.nodes.filter((m) => !f.shardOf(proposer).includes(m));
    // The proposer's mates are cut off: only the other shard hears it.
    f.bus.partition(
      [proposer, ...others].map((n) => n.gossip),
      mates.map((n) => n.gossip),
    );
    const payload = { lonely: true };
    const { correlationId } = await proposer.driver.accept({ subject: SUBJECT, payload });
    await f.step(300);
    for (const o of others) {
      const signature = encodeSignature(await o.gossip.sign(endorsementBytes(correlationId, payloadDigest(payload))));
      await o.gossip.publish({
        schemaVersion: ENVELOPE_SCHEMA_VERSION,
        kind: 'intent.endorse',
        endorser: o.gossip.peerId,
        endorsements: [{ correlationId, payloadDigest: payloadDigest(payload), signature }],
      });
    }
    await f.step(1_000);
    expect(f.stream.has(correlationId), 'no commit on other shards’ endorsements').toBe(false);
    expect(proposer.driver.endorsementsOf(correlationId)?.map((e) => e.peerId)).toEqual([proposer.gossip.peerId]);
    for (const o of others) expect(o.outbox.get(correlationId), 'the other shard stores nothing').toBeUndefined();
    f.bus.heal();
    await f.step(6_000); // the next re-proposal reaches the mates
    const row = f.stream.get(correlationId);
    expect(row, `${correlationId} committed after the heal`).toBeDefined();
    const endorsers = bodyOf(row!).endorsements.map((e) => e.peerId);
    for (const o of others) expect(endorsers).not.toContain(o.gossip.peerId);
  });

  it('a sidecar outside the fleet refuses intents (NOT_A_MEMBER) instead of accepting what never commits', async () => {
    const f = await fleet(6, 3);
    const outsider = f.nodes[5]!;
    for (const n of f.nodes) n.fleet.update(f.members.slice(0, 5));
    await expect(outsider.driver.accept({ subject: SUBJECT, payload: { x: 1 } })).rejects.toMatchObject({
      code: 'NOT_A_MEMBER',
      field: 'consensus.members',
    });
    expect(outsider.outbox.counts().proposed ?? 0).toBe(0);
    await expect(f.nodes[0]!.driver.accept({ subject: SUBJECT, payload: { x: 1 } })).resolves.toMatchObject({
      state: 'proposed',
    });
  });

  it('a re-plan moves an open intent to its proposer’s new shard', async () => {
    const f = await fleet(6, 3);
    const proposer = f.nodes[0]!;
    const mates = f.shardOf(proposer).filter((m) => m !== proposer);
    f.bus.partition(
      f.nodes.filter((n) => !mates.includes(n)).map((n) => n.gossip),
      mates.map((n) => n.gossip),
    );
    const { correlationId } = await proposer.driver.accept({ subject: SUBJECT, payload: { moved: true } });
    await f.step(300);
    expect(f.stream.has(correlationId)).toBe(false);
    // The mates leave the fleet: one shard of the four left, which the proposer's re-proposal reaches.
    const remaining = f.members.filter((m) => !mates.some((x) => x.gossip.peerId === m));
    for (const n of f.nodes) n.fleet.update(remaining);
    expect(proposer.fleet.home()!.members).toEqual([...remaining].sort());
    await f.step(1_500);
    const row = f.stream.get(correlationId);
    expect(row, `${correlationId} committed in the new shard`).toBeDefined();
    expect(bodyOf(row!).shard).toBe('shard-0-of-1');
    for (const e of bodyOf(row!).endorsements) expect(remaining).toContain(e.peerId);
  });
});
