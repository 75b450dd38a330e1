// Consensus driver over a memory gossip bus: real keys and the real validator, MemoryOutbox,
// a manual clock, and a small fake committer over one shared stream with Nats-Msg-Id dedupe.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConsensusDriverOptions } from '../../../src/consensus/consensus-context.js';
import { ConsensusDriver, type ConsensusEvent } from '../../../src/consensus/consensus-driver.js';
import {
  createConsensusMetrics,
  type ConsensusMetrics,
  type ConsensusOutcome,
} from '../../../src/consensus/metrics.js';
import { buildCommandRow } from '../../../src/core/command-message.js';
import { verifyCommit } from '../../../src/core/commit-verification.js';
import { committerRank, rankCommitters } from '../../../src/core/consensus.js';
import { encodeEnvelope } from '../../../src/core/envelope-codec.js';
import { DEFAULT_MAX_ENVELOPE_BYTES, type Envelope } from '../../../src/core/envelope.js';
import type { OutboxRow } from '../../../src/core/intent.js';
import { verifyPeerSignature } from '../../../src/mesh/peer-signature.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryGossipBus, type MemoryGossip } from '../../support/memory-gossip.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';

const TAKEOVER_MS = 3_000;
const TTL_MS = 60_000;
const SUBJECT = 'root.solar.command.sentiment.set';
const TP = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;

interface TestNode {
  name: string;
  gossip: MemoryGossip;
  outbox: MemoryOutbox;
  driver: ConsensusDriver;
  events: Array<{ event: ConsensusEvent; data: Record<string, unknown> }>;
  /** The node's NATS is away: its committer publishes nothing, and it cannot read the stream. */
  natsAway: boolean;
  /** Stream lookups this node's driver made (before expiring intents). */
  lookups: number;
  metrics: ConsensusMetrics;
}

async function outcomes(node: TestNode, outcome: ConsensusOutcome): Promise<number> {
  return (await node.metrics.intents.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

interface Stored {
  seq: number;
  row: OutboxRow;
  by: string;
}

let drivers: ConsensusDriver[] = [];
afterEach(async () => {
  for (const d of drivers.reverse()) await d.stop();
  drivers = [];
});

async function cluster(
  n: number,
  opts: {
    quorum: number;
    policy?: (i: number) => 'auto' | 'agent';
    extra?: (i: number) => Partial<ConsensusDriverOptions>;
  },
) {
  const clock = new ManualClock();
  const bus = await MemoryGossipBus.create(n);
  const cohort = bus.nodes.map((g) => g.peerId);
  bus.setCohort(cohort);
  const stream = new Map<string, Stored>();
  let publishCalls = 0;
  let idSeq = 0;
  const nodes: TestNode[] = [];

  const commitRound = (node: TestNode): void => {
    if (node.natsAway || node.gossip.down) return;
    const at = clock.now();
    const settled: Array<{ correlationId: string; stream: string; seq: number }> = [];
    for (const row of node.outbox.listByState(['in-flight'], 1_000)) {
      const hit = stream.get(row.correlationId);
      if (hit !== undefined) settled.push({ correlationId: row.correlationId, stream: 'CMD', seq: hit.seq });
      else node.outbox.markRetry([row.correlationId], 'not found in stream', at);
    }
    for (const row of node.outbox.listPublishable(1_000)) {
      publishCalls++;
      let hit = stream.get(row.correlationId);
      if (hit === undefined) {
        hit = { seq: stream.size + 1, row, by: node.name };
        stream.set(row.correlationId, hit);
      }
      settled.push({ correlationId: row.correlationId, stream: 'CMD', seq: hit.seq });
    }
    if (settled.length === 0) return;
    node.outbox.markCommitted(settled, at);
    node.driver.onCommitted(settled);
  };

  const make = (i: number, outbox = new MemoryOutbox()): TestNode => {
    const gossip = bus.nodes[i]!;
    const metrics = createConsensusMetrics(new Registry());
    const node = {
      name: String.fromCharCode(65 + i),
      gossip,
      outbox,
      events: [],
      natsAway: false,
      lookups: 0,
      metrics,
    } as unknown as TestNode;
    const reader = {
      findMsgIds: async (_subject: string, _since: number, ids: ReadonlySet<string>) => {
        node.lookups++;
        if (node.natsAway) throw new Error('NATS away');
        return new Map(
          [...ids].filter((id) => stream.has(id)).map((id) => [id, { stream: 'CMD', seq: stream.get(id)!.seq }]),
        );
      },
    };
    node.driver = new ConsensusDriver({
      metrics,
      reader,
      outbox,
      gossip,
      clock,
      logger: silentLogger(),
      wakeCommitter: () => queueMicrotask(() => commitRound(node)),
      emit: (event, data) => node.events.push({ event, data }),
      limits: { prefix: 'root.solar', maxPayloadBytes: 65_536 },
      quorum: opts.quorum,
      cohort,
      policy: opts.policy?.(i) ?? 'auto',
      ttlMs: TTL_MS,
      takeoverMs: TAKEOVER_MS,
      agentTimeoutMs: 2_000,
      newId: () => `01J${String(++idSeq).padStart(23, '0')}`,
      randomHex: (b) => 'a'.repeat(b * 2),
      ...opts.extra?.(i),
    });
    node.driver.start();
    drivers.push(node.driver);
    return node;
  };
  for (let i = 0; i < n; i++) nodes.push(make(i));

  /** Lets async work (signing, appends, validation) run. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };
  /** Moves time in 10 ms steps, settling after each. */
  const step = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      await settle();
    }
  };
  /** Crashes a node: it stops hearing and sending; its driver is gone. */
  const crash = async (node: TestNode): Promise<void> => {
    node.gossip.down = true;
    await node.driver.stop();
  };
  /** Restarts a crashed node on the same outbox (durable) and key. */
  const restart = (node: TestNode): TestNode => {
    node.gossip.down = false;
    const fresh = make(nodes.indexOf(node), node.outbox);
    nodes[nodes.indexOf(node)] = fresh;
    return fresh;
  };
  return {
    clock,
    bus,
    cohort,
    nodes,
    stream,
    settle,
    step,
    crash,
    restart,
    commitRound,
    publishCalls: () => publishCalls,
  };
}

const propose = (node: TestNode, payload: unknown = { v: 1 }) => node.driver.accept({ subject: SUBJECT, payload });

describe('ConsensusDriver', () => {
  it('drops an endorsement whose signature does not verify at promotion: never committed, counted', async () => {
    const c = await cluster(3, { quorum: 3 });
    // Node C signs with B's key: a well-formed signature the validator lets through.
    const [, b, bad] = c.nodes as [TestNode, TestNode, TestNode];
    bad.gossip.sign = (bytes) => b.gossip.sign(bytes);
    const { correlationId } = await propose(c.nodes[0]!);
    await c.step(300);
    expect(c.stream.size, 'no commit without a quorum of good signatures').toBe(0);
    let dropped = 0;
    for (const n of c.nodes) dropped += (await n.metrics.badEndorsements!.get()).values[0]?.value ?? 0;
    expect(dropped).toBeGreaterThan(0);
    // With quorum 2 the two good endorsements commit it, and the commit verifies offline.
    const d = await cluster(3, { quorum: 2 });
    d.nodes[2]!.gossip.sign = (bytes) => d.nodes[1]!.gossip.sign(bytes);
    const second = await propose(d.nodes[0]!);
    // If the bad signer ranks first, it drops its own endorsement and the next rank takes over.
    await d.step(TAKEOVER_MS + 500);
    const stored = d.stream.get(second.correlationId);
    expect(stored, `${second.correlationId} committed`).toBeDefined();
    const v = await verifyCommit(
      { body: stored!.row.body, headers: { ...stored!.row.headers, 'Nats-Msg-Id': second.correlationId } },
      { verify: verifyPeerSignature, quorum: 2, cohort: d.cohort },
    );
    expect(v.problems, `problems of ${correlationId}'s sibling`).toEqual([]);
  });

  it('commits an intent exactly once with a verifiable quorum, and every copy ends committed', async () => {
    const c = await cluster(3, { quorum: 2 });
    const { correlationId, state } = await propose(c.nodes[0]!);
    expect(state).toBe('proposed');
    expect(c.nodes[0]!.outbox.get(correlationId)?.state).toBe('proposed');
    await c.step(100);
    expect(c.stream.size).toBe(1);
    expect(c.publishCalls()).toBe(1);
    for (const n of c.nodes)
      expect(n.outbox.get(correlationId)?.state, `${n.name} copy of ${correlationId}`).toBe('committed');
    const stored = c.stream.get(correlationId)!;
    const v = await verifyCommit(
      { body: stored.row.body, headers: { ...stored.row.headers, 'Nats-Msg-Id': correlationId } },
      { verify: verifyPeerSignature, quorum: 2, cohort: c.cohort },
    );
    expect(v.problems).toEqual([]);
    expect(v.validEndorsers.length).toBeGreaterThanOrEqual(2);
    // The committer is the first-ranked among the endorsers it held.
    expect(
      committerRank(correlationId, v.validEndorsers, c.nodes.find((n) => n.name === stored.by)!.gossip.peerId),
    ).toBe(0);
    const others = c.nodes.filter((n) => n.name !== stored.by).flatMap((n) => n.events.map((e) => e.event));
    expect(others).toEqual(expect.arrayContaining(['intent:proposed', 'intent:endorsed', 'intent:committed']));
    for (const n of c.nodes) expect(await outcomes(n, 'committed'), `${n.name} counts its copy committed once`).toBe(1);
  });

  it('a batch: valid items stored in one append, each proposed and committed once; a bad item refused', async () => {
    const c = await cluster(3, { quorum: 2 });
    const node = c.nodes[0]!;
    const appendsBefore = node.outbox.appendCalls;
    const answer = await node.driver.acceptBatch([
      { subject: SUBJECT, payload: { v: 1 } },
      { subject: SUBJECT, payload: { v: 2 }, idempotencyKey: 'batch-2' },
      { subject: 'root.solar.nope', payload: 1 },
      { subject: SUBJECT, payload: { v: 2 }, idempotencyKey: 'batch-2' },
    ]);
    expect(node.outbox.appendCalls - appendsBefore, 'one transaction for the batch').toBe(1);
    expect(answer).toMatchObject({ errors: true, accepted: 3, refused: 1 });
    expect(answer.items[2]).toMatchObject({ error: { code: 'INPUT_INVALID', field: '[2].subject' } });
    const ids = answer.items.flatMap((r) => ('correlationId' in r ? [r.correlationId] : []));
    expect(ids[1]).toBe(ids[2]);
    await c.step(100);
    expect(c.stream.size).toBe(2);
    for (const id of new Set(ids)) expect(c.stream.has(id), `${id} committed`).toBe(true);
    const replay = await c.nodes[1]!.driver.acceptBatch([
      { subject: SUBJECT, payload: { v: 2 }, idempotencyKey: 'batch-2' },
    ]);
    expect(replay.items[0]).toMatchObject({ correlationId: ids[1], state: 'committed' });
  });

  it('announces intents only: a dead-letter notice committed in the same round does not sink the commit batch', async () => {
    const c = await cluster(3, { quorum: 2 });
    const notice = {
      ...buildCommandRow({
        correlationId: 'x',
        subject: SUBJECT,
        payload: 1,
        origin: 'me',
        traceparent: TP,
        createdAtMs: 0,
      }),
      correlationId: 'dl-01JNOTICE',
      subject: 'root.solar.deadletter.command',
    };
    for (const n of c.nodes) await n.outbox.append([notice]);
    const { correlationId } = await propose(c.nodes[0]!);
    await c.step(100);
    for (const n of c.nodes)
      expect(n.outbox.get(correlationId)?.state, `${n.name} copy of ${correlationId}`).toBe('committed');
  });

  it('batches endorsements: 100 intents cost far fewer endorse messages than endorsements', async () => {
    const c = await cluster(3, { quorum: 2 });
    const ids = await Promise.all(Array.from({ length: 100 }, (_, i) => propose(c.nodes[i % 3]!, { i })));
    await c.step(200);
    expect(c.stream.size).toBe(100);
    expect(c.publishCalls()).toBe(100);
    for (const { correlationId } of ids)
      for (const n of c.nodes)
        expect(n.outbox.get(correlationId)?.state, `${n.name} ${correlationId}`).toBe('committed');
    expect(c.bus.published.get('intent.propose') ?? 0).toBeLessThan(30);
    expect(c.bus.published.get('intent.endorse') ?? 0).toBeLessThan(30);
    expect(c.bus.published.get('intent.committed') ?? 0).toBeLessThan(30);
  });

  it('cuts proposal batches by size: large payloads travel in several envelopes, each under the limit', async () => {
    const c = await cluster(3, { quorum: 2 });
    const sizes: number[] = [];
    const publish = c.nodes[0]!.gossip.publish.bind(c.nodes[0]!.gossip);
    c.nodes[0]!.gossip.publish = (e: Envelope) => {
      if (e.kind === 'intent.propose') sizes.push(encodeEnvelope(e).length);
      return publish(e);
    };
    // 60 KB each (the API allows 64 KiB): at most four fit in 256 KiB.
    const ids = await Promise.all(
      Array.from({ length: 12 }, (_, i) => propose(c.nodes[0]!, { i, blob: 'x'.repeat(60_000) })),
    );
    await c.step(300);
    expect(c.stream.size).toBe(12);
    for (const { correlationId } of ids)
      expect(c.nodes[1]!.outbox.get(correlationId)?.state, correlationId).toBe('committed');
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    expect(sizes.length).toBeLessThan(12);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(DEFAULT_MAX_ENVELOPE_BYTES);
  });

  it('the accept resolves once the row is durable, without waiting for gossip', async () => {
    const c = await cluster(3, { quorum: 2 });
    const stuck: Array<() => void> = [];
    const gossip = c.nodes[0]!.gossip;
    const publish = gossip.publish.bind(gossip);
    gossip.publish = () => new Promise<void>((resolve) => stuck.push(resolve)); // a mesh that does not answer
    const accepted = await Promise.race([
      propose(c.nodes[0]!),
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 2_000)),
    ]);
    expect(accepted).not.toBe('timeout');
    const { correlationId } = accepted as { correlationId: string };
    expect(c.nodes[0]!.outbox.get(correlationId)?.state).toBe('proposed');
    expect(stuck.length, 'the proposal was handed to the mesh').toBeGreaterThanOrEqual(1);
    gossip.publish = publish;
    for (const r of stuck) r();
  });

  it('proposer dies right after proposing: another endorser commits exactly once', async () => {
    const c = await cluster(3, { quorum: 2 });
    const [a, b, cc] = c.nodes as [TestNode, TestNode, TestNode];
    const { correlationId } = await propose(a);
    await c.crash(a); // its own endorsement batch never leaves
    await c.step(200);
    expect(c.stream.size).toBe(1);
    expect(c.publishCalls()).toBe(1);
    expect(b.outbox.get(correlationId)?.state).toBe('committed');
    expect(cc.outbox.get(correlationId)?.state).toBe('committed');
    expect(a.outbox.get(correlationId)?.state).toBe('proposed');
    // The proposer restarts on its durable outbox, re-proposes, and learns the commit without publishing.
    const a2 = c.restart(a);
    await c.step(300);
    expect(a2.outbox.get(correlationId)?.state).toBe('committed');
    expect(c.publishCalls()).toBe(1);
  });

  it('takes over in rank order when the first-ranked committer cannot publish', async () => {
    const c = await cluster(5, { quorum: 5 });
    const { correlationId } = await propose(c.nodes[0]!);
    const order = rankCommitters(correlationId, c.cohort);
    const byPeer = (p: string) => c.nodes.find((n) => n.gossip.peerId === p)!;
    const [first, second, third] = [byPeer(order[0]!), byPeer(order[1]!), byPeer(order[2]!)];
    first.natsAway = true;
    await c.step(100); // quorum of 5 held everywhere
    expect(first.outbox.get(correlationId)?.state).toBe('pending-commit');
    expect(second.outbox.get(correlationId)?.state).toBe('proposed');
    await c.step(TAKEOVER_MS - 200);
    expect(c.stream.size).toBe(0);
    expect(second.outbox.get(correlationId)?.state, 'rank 1 waits one takeover slot').toBe('proposed');
    await c.step(400);
    expect(c.stream.get(correlationId)?.by, 'rank 1 took over').toBe(second.name);
    expect(await second.metrics.takeovers.get().then((m) => m.values[0]?.value)).toBe(1);
    expect(await first.metrics.takeovers.get().then((m) => m.values[0]?.value ?? 0)).toBe(0);
    await c.step(TAKEOVER_MS * 2);
    expect(c.publishCalls()).toBe(1);
    expect(third.outbox.get(correlationId)?.state).toBe('committed');
    // The first-ranked node learns the commit over gossip and never publishes its copy.
    expect(first.outbox.get(correlationId)?.state).toBe('committed');
    first.natsAway = false;
    c.commitRound(first);
    expect(c.publishCalls()).toBe(1);
  });

  it('waits longer before a takeover while commits are seen late here', async () => {
    const c = await cluster(3, { quorum: 3 });
    const byPeer = (p: string) => c.nodes.find((n) => n.gossip.peerId === p)!;
    // Each node sees a live first-ranked committer publish 2 s after quorum (under takeoverMs).
    const slow = new Set<string>();
    for (let i = 0; i < 12 && slow.size < 3; i++) {
      for (const n of c.nodes) n.natsAway = true;
      const { correlationId } = await propose(c.nodes[i % 3]!, { i });
      await c.step(2_000);
      const first = byPeer(rankCommitters(correlationId, c.cohort)[0]!);
      for (const n of c.nodes) n.natsAway = false;
      c.commitRound(first);
      await c.step(100);
      expect(c.stream.get(correlationId)?.by, `${correlationId} committed by its first rank`).toBe(first.name);
      for (const n of c.nodes) if (n !== first) slow.add(n.name);
    }
    expect(slow.size).toBe(3);
    const { correlationId } = await propose(c.nodes[0]!, { last: true });
    const order = rankCommitters(correlationId, c.cohort);
    byPeer(order[0]!).natsAway = true;
    await c.step(TAKEOVER_MS + 500);
    expect(c.stream.has(correlationId), 'a fixed step would have taken over by now').toBe(false);
    await c.step(6_000);
    expect(c.stream.get(correlationId)?.by, 'rank 1 took over once its longer step passed').toBe(
      byPeer(order[1]!).name,
    );
    expect(c.publishCalls()).toBe(c.stream.size);
  });

  it('a minority cannot reach quorum 3 of 5; it commits once after the heal', async () => {
    const c = await cluster(5, { quorum: 3 });
    const [a, b, cc, d, e] = c.nodes as [TestNode, TestNode, TestNode, TestNode, TestNode];
    c.bus.partition([a.gossip, b.gossip, cc.gossip], [d.gossip, e.gossip]);
    const { correlationId } = await propose(d);
    await c.step(10_000);
    expect(c.stream.size).toBe(0);
    expect(d.outbox.get(correlationId)?.state).toBe('proposed');
    expect(e.outbox.get(correlationId)?.state).toBe('proposed');
    expect(a.outbox.get(correlationId)).toBeUndefined();
    c.bus.heal();
    await c.step(300); // the peer join triggers a re-proposal
    expect(c.stream.size).toBe(1);
    expect(c.publishCalls()).toBe(1);
    for (const n of c.nodes) expect(n.outbox.get(correlationId)?.state, `${n.name} ${correlationId}`).toBe('committed');
  });

  it('a node that missed the commit gossip reads the stream at the TTL instead of expiring a committed intent', async () => {
    const c = await cluster(3, { quorum: 2 });
    const [a, b, cc] = c.nodes as [TestNode, TestNode, TestNode];
    // C never hears the others: it only learns of the intent through its own copy.
    const { correlationId } = await propose(a);
    await c.settle();
    c.bus.partition([a.gossip, b.gossip], [cc.gossip]);
    await c.step(500);
    expect(c.stream.size).toBe(1);
    expect(cc.outbox.get(correlationId)?.state, 'C holds a proposed copy').toBe('proposed');
    cc.natsAway = true;
    await c.step(TTL_MS);
    expect(cc.lookups, 'C looked the intent up before expiring it').toBeGreaterThan(0);
    expect(cc.outbox.get(correlationId)?.state, 'stream unreadable: kept, not guessed').toBe('proposed');
    cc.natsAway = false;
    await c.step(6_000);
    expect(cc.outbox.get(correlationId)).toMatchObject({ state: 'committed', streamSeq: 1 });
    expect(cc.events.some((x) => x.event === 'intent:expired')).toBe(false);
    expect(c.publishCalls()).toBe(1);
    void b;
  });

  it('a minority expires its intents visibly at the TTL', async () => {
    const c = await cluster(5, { quorum: 3 });
    const [a, b, cc, d, e] = c.nodes as [TestNode, TestNode, TestNode, TestNode, TestNode];
    c.bus.partition([a.gossip, b.gossip, cc.gossip], [d.gossip, e.gossip]);
    const { correlationId } = await propose(d);
    await c.step(TTL_MS - 100);
    expect(d.outbox.get(correlationId)?.state).toBe('proposed');
    await c.step(200);
    expect(d.outbox.get(correlationId)).toMatchObject({ state: 'expired' });
    expect(e.outbox.get(correlationId)?.state).toBe('expired');
    expect(d.events.find((x) => x.event === 'intent:expired')?.data).toMatchObject({ correlationId, state: 'expired' });
    expect(await outcomes(d, 'expired')).toBe(1);
    expect(await outcomes(e, 'expired')).toBe(1);
    c.bus.heal();
    await c.step(6_000);
    expect(c.stream.size).toBe(0);
  });

  it('agent policy: an endorsement needs the agent; silence abstains', async () => {
    const c = await cluster(2, { quorum: 2, policy: (i) => (i === 1 ? 'agent' : 'auto') });
    const [a, b] = c.nodes as [TestNode, TestNode];
    const first = await propose(a, { n: 1 });
    await c.settle();
    expect(b.events.find((x) => x.event === 'intent:endorsement-requested')?.data).toMatchObject({
      correlationId: first.correlationId,
      payload: { n: 1 },
    });
    expect(b.driver.answerEndorsement(first.correlationId, true)).toBe(true);
    await c.step(100);
    expect(c.stream.has(first.correlationId)).toBe(true);

    const second = await propose(a, { n: 2 });
    await c.step(2_100); // agentTimeoutMs passes unanswered
    expect(b.driver.answerEndorsement(second.correlationId, true)).toBe(false);
    expect(b.outbox.get(second.correlationId)).toBeUndefined();
    expect(c.stream.has(second.correlationId)).toBe(false);

    const third = await propose(a, { n: 3 });
    await c.settle();
    expect(b.driver.answerEndorsement(third.correlationId, false)).toBe(true);
    await c.step(100);
    expect(c.stream.has(third.correlationId)).toBe(false);
    expect(await outcomes(b, 'rejected'), 'silence and veto, each counted once').toBe(2);
  });

  it('an endorser refuses a payloadRef to another bucket than payloads.bucket, counted by reason', async () => {
    // A's payloads.bucket is OTHER (misconfigured); B and C look for objects in NET_SYNC_PAYLOADS.
    const c = await cluster(3, {
      quorum: 2,
      extra: (i) => ({
        payloadBucket: i === 0 ? 'OTHER' : 'NET_SYNC_PAYLOADS',
        externalise: async (name: string) => ({
          bucket: i === 0 ? 'OTHER' : 'NET_SYNC_PAYLOADS',
          name,
          size: 30_000,
          digest: 'c'.repeat(64),
        }),
      }),
    });
    const [a, b, cc] = c.nodes as [TestNode, TestNode, TestNode];
    const refusals = async (n: TestNode, reason: string): Promise<number> =>
      (await n.metrics.refusals!.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
    const wrong = await propose(a, { big: true });
    await c.step(500);
    expect(c.stream.has(wrong.correlationId), 'no quorum: nobody else endorses').toBe(false);
    expect(b.outbox.get(wrong.correlationId)).toBeUndefined();
    for (const n of [b, cc]) {
      expect(await refusals(n, 'payload-ref-bucket')).toBe(1);
      expect(await outcomes(n, 'rejected')).toBe(1);
    }
    // The same reference to the configured bucket is endorsed and committed.
    const right = await propose(b, { big: true });
    await c.step(500);
    expect(c.stream.get(right.correlationId)?.row.body).toBeDefined();
    expect(await refusals(cc, 'payload-ref-bucket'), 'not counted again').toBe(1);
    expect(await refusals(cc, 'expired')).toBe(0);
  });

  it('quorum 1 with two nodes: the views settle on one committer', async () => {
    const c = await cluster(2, { quorum: 1 });
    const r = await propose(c.nodes[0]!);
    expect(r.state).toBe('proposed');
    await c.step(100);
    expect(c.publishCalls()).toBe(1);
    expect(c.nodes[1]!.outbox.get(r.correlationId)?.state).toBe('committed');
  });
});
