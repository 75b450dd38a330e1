import { afterEach, describe, expect, it } from 'vitest';
import { OutboxCommitter } from '../../../src/commit/outbox-committer.js';
import type { PassOptions } from '../../../src/commit/publish-pass.js';
import { buildCommandRow } from '../../../src/core/command-message.js';
import { buildDeadLetterRow, type DeadLetterBody } from '../../../src/core/dead-letter.js';
import type { OutboxRow } from '../../../src/core/intent.js';
import type { Clock } from '../../../src/core/ports.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { SystemClock } from '../../../src/runtime/system-clock.js';
import { FakeJetStream } from '../../support/fake-jetstream.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { waitFor } from '../../support/wait-for.js';

const clock = new SystemClock();
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

function rows(n: number, subject = 'root.solar.command.a.b', createdAtMs = clock.now()) {
  return Array.from({ length: n }, (_, i) =>
    buildCommandRow({
      correlationId: `id-${String(i).padStart(5, '0')}`,
      subject,
      payload: { i },
      origin: 'me',
      traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
      createdAtMs,
    }),
  );
}

function setup(
  opts: {
    duplicateWindowMs?: number;
    window?: number;
    idleMs?: number;
    clock?: Clock;
    deadLetter?: PassOptions['deadLetter'];
    commandLookupAfterMs?: number;
    /** The duplicate window the committer is told of (resend instead of a scan); default: none. */
    streamWindowMs?: number;
  } = {},
) {
  const clk = opts.clock ?? clock;
  const outbox = new MemoryOutbox();
  const js = new FakeJetStream(() => clk.now(), opts.duplicateWindowMs ?? 120_000);
  const committer = new OutboxCommitter({
    outbox,
    publisher: js,
    reader: js,
    clock: clk,
    logger: silentLogger(),
    window: opts.window ?? 16,
    batchRows: 8,
    backoff: { baseMs: 5, maxMs: 20, minMs: 1 },
    scanSkewMs: 1_000,
    leaseOwner: 'sidecar:me',
    idleMs: opts.idleMs ?? 20,
    ...(opts.deadLetter === undefined ? {} : { deadLetter: opts.deadLetter }),
    commandLookupAfterMs: opts.commandLookupAfterMs,
    ...(opts.streamWindowMs === undefined ? {} : { duplicateWindowMs: () => opts.streamWindowMs }),
  });
  stops.push(() => committer.stop());
  return { outbox, js, committer };
}

/** A clock `skew.ms` off the system clock: time passing (a lease running out) without waiting. */
function skewedClock(): { shifted: Clock; skew: { ms: number } } {
  const skew = { ms: 0 };
  return { skew, shifted: { now: () => clock.now() + skew.ms, sleep: (ms, signal) => clock.sleep(ms, signal) } };
}

/** Holds the answer of every stream scan of `js` until the returned function is called (a slow lookup). */
function holdScans(js: FakeJetStream): () => void {
  let release!: () => void;
  js.scanGate = new Promise((r) => (release = r));
  return () => {
    js.scanGate = null;
    release();
  };
}

/** Starts `committer` with its stream lookups held, once the first lookup began; returns the release. */
async function startInHeldLookup(committer: OutboxCommitter, js: FakeJetStream): Promise<() => void> {
  const release = holdScans(js);
  committer.start();
  await waitFor(() => js.scans > 0, 'a lookup started');
  return release;
}

/** Starts `committer` and waits until its first round has read the (empty) outbox and gone idle. */
async function startIdle(committer: OutboxCommitter, outbox: MemoryOutbox, now: () => number): Promise<void> {
  committer.start();
  await waitFor(() => outbox.leaseHolder(now())?.owner === 'sidecar:me', 'lease taken');
  await new Promise((r) => setTimeout(r, 30));
}

/** Counts the rows `outbox.claim` is asked to claim. */
function countClaims(outbox: MemoryOutbox): { rows: number } {
  const counted = { rows: 0 };
  const claim = outbox.claim.bind(outbox);
  outbox.claim = (req) => {
    counted.rows += req.ids.length;
    return claim(req);
  };
  return counted;
}

function expectExactlyOnce(js: FakeJetStream, ids: string[]): void {
  const counts = js.idCounts();
  for (const id of ids) expect(counts.get(id), `copies of ${id}`).toBe(1);
  expect(js.messages.length).toBe(ids.length);
}

describe('OutboxCommitter', () => {
  it('publishes every row once, in order, and records the stream seq', async () => {
    const { outbox, js, committer } = setup();
    const batch = rows(50);
    await outbox.append(batch);
    committer.start();
    await waitFor(() => outbox.counts().committed === 50, '50 committed');
    expectExactlyOnce(
      js,
      batch.map((r) => r.correlationId),
    );
    expect(js.messages.map((m) => m.msgId)).toEqual(batch.map((r) => r.correlationId));
    expect(outbox.get('id-00007')).toMatchObject({ state: 'committed', stream: 'FAKE', streamSeq: 8 });
  });

  it('resolves a lost PubAck by reading the stream, without republishing, even with no dedupe window', async () => {
    const { outbox, js, committer } = setup({ duplicateWindowMs: 0 });
    const batch = rows(3);
    js.faults = ['ok', 'store-then-timeout', 'ok'];
    await outbox.append(batch);
    committer.start();
    await waitFor(() => outbox.counts().committed === 3, '3 committed');
    expectExactlyOnce(
      js,
      batch.map((r) => r.correlationId),
    );
    expect(js.scans).toBeGreaterThan(0);
  });

  it('republishes a timed-out row the stream does not hold', async () => {
    const { outbox, js, committer } = setup({ duplicateWindowMs: 0 });
    const batch = rows(3);
    js.faults = ['timeout'];
    await outbox.append(batch);
    committer.start();
    await waitFor(() => outbox.counts().committed === 3, '3 committed');
    expectExactlyOnce(
      js,
      batch.map((r) => r.correlationId),
    );
  });

  it('buffers while disconnected and replays when the connection returns', async () => {
    const { outbox, js, committer } = setup();
    js.setState('disconnected');
    committer.start();
    const batch = rows(20);
    await outbox.append(batch);
    committer.wake();
    await new Promise((r) => setTimeout(r, 50));
    expect(outbox.counts()['pending-commit']).toBe(20);
    expect(js.messages.length).toBe(0);
    js.setState('connected');
    await waitFor(() => outbox.counts().committed === 20, '20 committed after reconnect');
    expectExactlyOnce(
      js,
      batch.map((r) => r.correlationId),
    );
  });

  it('sends a permanently refused row to dead with its reason and goes on', async () => {
    const { outbox, js, committer } = setup();
    const batch = rows(3);
    js.faults = ['ok', 'no-stream', 'ok'];
    const dead: string[] = [];
    committer.on('intent:dead', (list) => dead.push(...list.map((d) => d.correlationId)));
    await outbox.append(batch);
    committer.start();
    await waitFor(() => outbox.counts().committed === 2 && outbox.counts().dead === 1, '2 committed, 1 dead');
    expect(outbox.get('id-00001')).toMatchObject({ state: 'dead', reason: 'NATS_NO_STREAM: no stream' });
    expect(dead).toEqual(['id-00001']);
  });

  it('publishes a dead-letter notice of a refused row, stored with its dead mark, even while sending from memory', async () => {
    const deadLetter = (row: OutboxRow, reason: string, at: number) =>
      buildDeadLetterRow(row, reason, at, 'root.solar');
    const { outbox, js, committer } = setup({ deadLetter });
    await startIdle(committer, outbox, () => clock.now());
    js.faults = ['ok', 'no-stream', 'ok'];
    await outbox.append(rows(3));
    await waitFor(() => outbox.get('dl-id-00001')?.state === 'committed', 'the notice committed');
    expect(outbox.counts()).toMatchObject({ committed: 3, dead: 1 });
    const notice = js.messages.find((m) => m.subject === 'root.solar.deadletter.command')!;
    expect(notice).toMatchObject({
      msgId: 'dl-id-00001',
      headers: { 'Net-Sync-Correlation-Id': 'id-00001', 'Net-Sync-Kind': 'dead-letter' },
    });
    const body = JSON.parse(new TextDecoder().decode(notice.body)) as DeadLetterBody;
    expect(body).toMatchObject({
      correlationId: 'id-00001',
      subject: 'root.solar.command.a.b',
      kind: 'command',
      reason: 'NATS_NO_STREAM: no stream',
      attempts: 1,
    });
    expect(body.message.body).toMatchObject({ correlationId: 'id-00001', payload: { i: 1 } });
  });

  it('a refused row a peer committed meanwhile stays committed: not dead, not announced, no notice', async () => {
    const deadLetter = (row: OutboxRow, reason: string, at: number) =>
      buildDeadLetterRow(row, reason, at, 'root.solar');
    const { outbox, js, committer } = setup({ deadLetter });
    js.faults = ['no-stream'];
    const markTerminal = outbox.markTerminal.bind(outbox);
    outbox.markTerminal = (ids, ...rest) => {
      outbox.markCommitted(
        ids.map((correlationId) => ({ correlationId, stream: 'CMD', seq: 99 })),
        clock.now(),
      ); // the peer's commit gossip
      return markTerminal(ids, ...rest);
    };
    const dead: string[] = [];
    committer.on('intent:dead', (list) => dead.push(...list.map((d) => d.correlationId)));
    await outbox.append(rows(1));
    committer.start();
    await waitFor(() => outbox.get('id-00000')?.state === 'committed', 'committed by the peer');
    await new Promise((r) => setTimeout(r, 50));
    expect(dead).toEqual([]);
    expect(outbox.get('dl-id-00000')).toBeUndefined();
  });

  it('keeps a refused dead-letter notice dead, with no notice of the notice', async () => {
    const deadLetter = (row: OutboxRow, reason: string, at: number) =>
      buildDeadLetterRow(row, reason, at, 'root.solar');
    const { outbox, js, committer } = setup({ deadLetter });
    js.faults = ['no-stream', 'no-stream'];
    await outbox.append(rows(1));
    committer.start();
    await waitFor(() => outbox.counts().dead === 2, 'the row and its notice dead');
    await new Promise((r) => setTimeout(r, 50));
    expect(outbox.listByState(['pending-commit', 'in-flight', 'committed'], 10)).toEqual([]);
    expect(js.messages).toEqual([]);
  });

  it('does not publish while another owner holds the lease', async () => {
    const { outbox, js, committer } = setup();
    expect(outbox.tryLease('reconcile:1', 60_000, clock.now())).toBe(true);
    await outbox.append(rows(2));
    committer.start();
    await new Promise((r) => setTimeout(r, 80));
    expect(js.publishCalls).toBe(0);
    outbox.releaseLease('reconcile:1');
    await waitFor(() => outbox.counts().committed === 2, '2 committed after the lease is free');
  });

  it('recovers rows left in-flight by a crash without duplicates', async () => {
    const { outbox, js, committer } = setup({ duplicateWindowMs: 0 });
    const batch = rows(10);
    await outbox.append(batch);
    // A previous process published the first 6, then died before recording the acks.
    outbox.markInFlight(
      batch.map((r) => r.correlationId),
      clock.now(),
    );
    for (const r of batch.slice(0, 6))
      await js.publish({ subject: r.subject, body: r.body, msgId: r.correlationId, headers: r.headers });
    committer.start();
    await waitFor(() => outbox.counts().committed === 10, '10 committed');
    expectExactlyOnce(
      js,
      batch.map((r) => r.correlationId),
    );
  });

  it('resends in-flight rows under their own IDs while the duplicate window covers them, without a scan', async () => {
    const { outbox, js, committer } = setup({ streamWindowMs: 120_000 });
    const batch = rows(40);
    await outbox.append(batch);
    outbox.markInFlight(
      batch.map((r) => r.correlationId),
      clock.now(),
    );
    // A previous process published the first 6, then died before recording the acks.
    for (const r of batch.slice(0, 6))
      await js.publish({ subject: r.subject, body: r.body, msgId: r.correlationId, headers: r.headers });
    const lookups: Array<{ rows: number; resent: number; found: number }> = [];
    committer.on('lookup:ended', (r) => lookups.push(r));
    committer.start();
    await waitFor(() => outbox.counts().committed === 40, '40 committed');
    expectExactlyOnce(
      js,
      batch.map((r) => r.correlationId),
    );
    expect(js.scans).toBe(0);
    // The stream's answer to a copy it held names that copy.
    expect(outbox.get('id-00003')).toMatchObject({ state: 'committed', stream: 'FAKE', streamSeq: 4 });
    expect(lookups[0]).toMatchObject({ rows: 40, resent: 40, found: 0 });
  });

  it('reads the stream instead of resending once a row is older than half the duplicate window', async () => {
    const { outbox, js, committer } = setup({ streamWindowMs: 120_000 });
    const batch = rows(10, undefined, clock.now() - 58_000);
    await outbox.append(batch);
    outbox.markInFlight(
      batch.map((r) => r.correlationId),
      clock.now(),
    );
    for (const r of batch.slice(0, 6))
      await js.publish({ subject: r.subject, body: r.body, msgId: r.correlationId, headers: r.headers });
    committer.start();
    await waitFor(() => outbox.counts().committed === 10, '10 committed');
    expectExactlyOnce(
      js,
      batch.map((r) => r.correlationId),
    );
    // 58 s old + the 5 s send margin + 1 s skew is past 60 s: the lookup is a scan.
    expect(js.scans).toBeGreaterThan(0);
  });

  it('reads the stream for the rows a resend did not settle', async () => {
    const { outbox, js, committer } = setup({ streamWindowMs: 120_000 });
    const batch = rows(10);
    await outbox.append(batch);
    outbox.markInFlight(
      batch.map((r) => r.correlationId),
      clock.now(),
    );
    for (const r of batch.slice(0, 6))
      await js.publish({ subject: r.subject, body: r.body, msgId: r.correlationId, headers: r.headers });
    js.faults = ['disconnected'];
    committer.start();
    await waitFor(() => outbox.counts().committed === 10, '10 committed');
    expectExactlyOnce(
      js,
      batch.map((r) => r.correlationId),
    );
    expect(js.scans).toBeGreaterThan(0);
  });

  it('has appends claim their rows while it keeps up, so they cost no claim transaction of their own', async () => {
    const { outbox, js, committer } = setup();
    const claims = countClaims(outbox);
    await startIdle(committer, outbox, () => clock.now());
    const batch = rows(20);
    for (let i = 0; i < 20; i += 4) {
      await outbox.append(batch.slice(i, i + 4));
      committer.wake();
      await waitFor(() => outbox.counts().committed === i + 4, `${i + 4} committed`);
    }
    expectExactlyOnce(
      js,
      batch.map((r) => r.correlationId),
    );
    expect(js.messages.map((m) => m.msgId)).toEqual(batch.map((r) => r.correlationId));
    expect(claims.rows).toBe(0);
    expect(outbox.get('id-00019')).toMatchObject({ state: 'committed', attempts: 1 });
  });

  it('puts rows claimed on append back to pending when it stops before sending them', async () => {
    const { outbox, js, committer } = setup({ idleMs: 60_000 });
    await startIdle(committer, outbox, () => clock.now());
    await outbox.append(rows(3));
    expect(outbox.counts()['in-flight']).toBe(3);
    await committer.stop();
    expect(js.publishCalls).toBe(0);
    expect(outbox.counts()['pending-commit']).toBe(3);
    expect(outbox.get('id-00000')?.lastError).toBe('claimed on append, not sent');
  });

  it('never sends a row claimed on append once the lease that covered it may have run out', async () => {
    // The sidecar stalls past its lease; another owner (a reconcile) takes the lease and commits
    // the rows itself. With no dedupe window, a late send from the sidecar would duplicate them.
    const { shifted, skew } = skewedClock();
    const { outbox, js, committer } = setup({ idleMs: 60_000, duplicateWindowMs: 0, clock: shifted });
    await startIdle(committer, outbox, () => shifted.now());
    const batch = rows(3);
    await outbox.append(batch);
    expect(outbox.counts()['in-flight']).toBe(3);
    skew.ms = 11_000;
    expect(outbox.tryLease('reconcile:1', 5_000, shifted.now())).toBe(true);
    const acks = [];
    for (const r of batch) {
      const ack = await js.publish({ subject: r.subject, body: r.body, msgId: r.correlationId, headers: r.headers });
      if (ack.kind === 'acked') acks.push({ correlationId: r.correlationId, stream: ack.stream, seq: ack.seq });
    }
    outbox.markCommitted(acks, shifted.now());
    outbox.releaseLease('reconcile:1');
    committer.wake();
    await waitFor(() => outbox.leaseHolder(shifted.now())?.owner === 'sidecar:me', 'the committer took the lease back');
    await new Promise((r) => setTimeout(r, 100));
    expectExactlyOnce(
      js,
      batch.map((r) => r.correlationId),
    );
    expect(outbox.counts().committed).toBe(3);
  });

  it('never sends a claimed row whose own claim lease ran out, even when a newer claim renewed the lease', async () => {
    const { shifted, skew } = skewedClock();
    const { outbox, js, committer } = setup({ idleMs: 60_000, duplicateWindowMs: 0, clock: shifted });
    await startIdle(committer, outbox, () => shifted.now());
    const [a, b] = rows(2);
    await outbox.append([a!]);
    skew.ms = 11_000;
    // Another owner takes the lapsed lease and commits A itself.
    expect(outbox.tryLease('reconcile:1', 5_000, shifted.now())).toBe(true);
    const ack = await js.publish({ subject: a!.subject, body: a!.body, msgId: a!.correlationId, headers: a!.headers });
    if (ack.kind === 'acked')
      outbox.markCommitted([{ correlationId: a!.correlationId, stream: ack.stream, seq: ack.seq }], shifted.now());
    outbox.releaseLease('reconcile:1');
    // B's append claims it under a fresh lease, while A still sits in the committer's memory.
    await outbox.append([b!]);
    committer.wake();
    await waitFor(() => outbox.get(b!.correlationId)?.state === 'committed', 'B committed');
    await new Promise((r) => setTimeout(r, 50));
    expectExactlyOnce(js, [a!.correlationId, b!.correlationId]);
  });

  it('looks up a row promoted to in-flight while a lookup was already running', async () => {
    const { outbox, js, committer } = setup({ duplicateWindowMs: 0 });
    const [unknown, promoted] = rows(2);
    await outbox.append([unknown!, { ...promoted!, state: 'proposed' }]);
    outbox.markInFlight([unknown!.correlationId], clock.now());
    const release = await startInHeldLookup(committer, js);
    // A takeover: the row may have been published by another node, so it goes to a lookup.
    expect(outbox.promote(promoted!.correlationId, promoted!.body, promoted!.headers, clock.now(), 'in-flight')).toBe(
      true,
    );
    committer.promoted();
    release();
    await waitFor(() => outbox.counts().committed === 2, 'both committed');
    expectExactlyOnce(js, [unknown!.correlationId, promoted!.correlationId]);
  });

  it('leaves a row in-flight when its lookup outlasted the lease, and claims nothing on append during a lookup', async () => {
    const { shifted, skew } = skewedClock();
    const { outbox, js, committer } = setup({ duplicateWindowMs: 0, clock: shifted });
    const [x, y] = rows(2);
    await outbox.append([x!]);
    outbox.markInFlight([x!.correlationId], shifted.now());
    const release = await startInHeldLookup(committer, js);
    await outbox.append([y!]);
    expect(outbox.get(y!.correlationId)?.state).toBe('pending-commit');
    // The lookup outlasts the lease; another owner publishes X meanwhile and loses its PubAck.
    skew.ms = 11_000;
    expect(outbox.tryLease('reconcile:1', 5_000, shifted.now())).toBe(true);
    await js.publish({ subject: x!.subject, body: x!.body, msgId: x!.correlationId, headers: x!.headers });
    outbox.releaseLease('reconcile:1');
    release();
    await waitFor(() => outbox.counts().committed === 2, 'both committed');
    expectExactlyOnce(js, [x!.correlationId, y!.correlationId]);
  });

  it('looks a stale telemetry row up before sending it: another scout may have stored the same ID outside the duplicate window', async () => {
    const { shifted, skew } = skewedClock();
    const { outbox, js, committer } = setup({ duplicateWindowMs: 0, clock: shifted });
    const summary = (id: string, createdAtMs: number) => ({
      ...rows(1)[0]!,
      correlationId: id,
      subject: 'root.solar.telemetry.sentiment.delta',
      kind: 'telemetry' as const,
      createdAtMs,
    });
    const longAgo = clock.now() - 130_000;
    const stale = summary('w-stale', longAgo);
    const missing = summary('w-missing', longAgo);
    const fresh = summary('w-fresh', clock.now());
    // The runner-up scout stored the stale window's copy 130 s ago (NATS was away from this scout).
    skew.ms = -130_000;
    await js.publish({ subject: stale.subject, body: stale.body, msgId: stale.correlationId, headers: stale.headers });
    skew.ms = 0;
    await outbox.append([stale, missing, fresh]);
    committer.start();
    await waitFor(() => outbox.counts().committed === 3, '3 committed');
    expectExactlyOnce(js, ['w-stale', 'w-missing', 'w-fresh']);
    expect(outbox.get('w-stale')).toMatchObject({ state: 'committed', streamSeq: 1 });
  });

  it.each([
    [undefined, 2],
    [500, 1],
  ])(
    'with commandLookupAfterMs %s, a command row left pending past it is looked up, not sent: the takeover stored it (%i copies)',
    async (after, copies) => {
      const { shifted, skew } = skewedClock();
      const { outbox, js, committer } = setup({ duplicateWindowMs: 0, clock: shifted, commandLookupAfterMs: after });
      const [first, fresh] = rows(2);
      // Promoted here 3 s ago, then this committer was cut off; the next-ranked one took it over 2 s ago.
      const taken = { ...first!, createdAtMs: clock.now() - 3_000 };
      await outbox.append([taken]);
      skew.ms = -2_000;
      await js.publish({ subject: taken.subject, body: taken.body, msgId: taken.correlationId, headers: {} });
      skew.ms = 0;
      await outbox.append([fresh!]);
      committer.start();
      await waitFor(() => outbox.counts().committed === 2, 'both committed');
      expect(js.messages.filter((m) => m.msgId === taken.correlationId)).toHaveLength(copies);
      expect(js.messages.filter((m) => m.msgId === fresh!.correlationId)).toHaveLength(1);
    },
  );

  it('sends a stale telemetry row once its lookup found nothing, even when lookups are slower than the staleness limit', async () => {
    const { outbox, js } = setup({ duplicateWindowMs: 0 });
    const committer = new OutboxCommitter({
      outbox,
      publisher: js,
      reader: js,
      clock,
      logger: silentLogger(),
      window: 16,
      batchRows: 8,
      sharedIdLookupAfterMs: 20,
      backoff: { baseMs: 5, maxMs: 20, minMs: 1 },
      scanSkewMs: 1_000,
      leaseOwner: 'sidecar:me',
      idleMs: 20,
    });
    stops.push(() => committer.stop());
    const find = js.findMsgIds.bind(js);
    js.findMsgIds = async (...a) => {
      await new Promise((r) => setTimeout(r, 40));
      return find(...a);
    };
    const row = {
      ...rows(1)[0]!,
      correlationId: 'w-slow',
      subject: 'root.solar.telemetry.sentiment.delta',
      kind: 'telemetry' as const,
      createdAtMs: clock.now() - 5_000,
    };
    await outbox.append([row]);
    committer.start();
    await waitFor(() => outbox.counts().committed === 1, 'committed');
    expectExactlyOnce(js, ['w-slow']);
  });
});

describe('OutboxCommitter on a manual clock', () => {
  // Lets the loop run what is due without time passing.
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };

  it('backs off after a failed pass: new rows do not cut the backoff short, a reconnect does', async () => {
    const manual = new ManualClock();
    const outbox = new MemoryOutbox();
    const js = new FakeJetStream(() => manual.now());
    const committer = new OutboxCommitter({
      outbox,
      publisher: js,
      reader: js,
      clock: manual,
      logger: silentLogger(),
      window: 16,
      batchRows: 8,
      backoff: { baseMs: 30_000, maxMs: 30_000, minMs: 30_000 },
      scanSkewMs: 1_000,
      leaseOwner: 'sidecar:me',
    });
    stops.push(() => committer.stop());
    js.faults = ['disconnected'];
    await outbox.append(rows(1));
    committer.start();
    await waitFor(() => manual.sleeping === 1 && js.publishCalls === 1, 'the first publish failed and the loop sleeps');
    expect(outbox.get('id-00000')?.state).toBe('pending-commit');
    await outbox.append(rows(2).slice(1));
    expect(outbox.get('id-00001')?.state, 'backing off, an append claims nothing').toBe('pending-commit');
    committer.wake();
    await settle();
    expect(js.publishCalls, 'a wake for new rows does not end the backoff').toBe(1);
    js.setState('disconnected');
    js.setState('connected');
    await waitFor(() => outbox.counts().committed === 2, 'both committed after the reconnect wake');
    expect(manual.now(), 'no time passed: the reconnect ended the backoff').toBe(new ManualClock().now());
    expectExactlyOnce(js, ['id-00000', 'id-00001']);
  });
});
