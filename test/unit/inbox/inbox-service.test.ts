import { afterEach, describe, expect, it, vi } from 'vitest';
import type {
  AgentAnswer,
  AgentPusher,
  InboxCommand,
  InboxDelivery,
  InboxMessageView,
} from '../../../src/core/inbox.js';
import type { NewOutboxRow } from '../../../src/core/intent.js';
import { InboxService, type InboxServiceOptions, type InboxSettings } from '../../../src/inbox/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryAppliedCommands } from '../../support/memory-applied-commands.js';
import { MemoryInboxSource, type RecordedDelivery } from '../../support/memory-inbox-source.js';

const SETTINGS: InboxSettings = {
  ackWaitMs: 1_000,
  maxDeliver: 3,
  maxAckPending: 1,
  backoffMs: [200, 1_000],
  processingTimeoutMs: 10_000,
  retainMs: 0,
};

/** Answers each push by its payload's `answer` field (default 204), and records what it was sent. */
class FakeAgentPusher implements AgentPusher {
  readonly pushed: InboxCommand[] = [];
  constructor(private readonly answers: Record<string, AgentAnswer> = {}) {}

  async push(command: InboxCommand): Promise<AgentAnswer> {
    this.pushed.push(command);
    return this.answers[command.correlationId] ?? { kind: 'response', status: 204, body: undefined };
  }
}

interface Rig {
  inbox: InboxService;
  source: MemoryInboxSource;
  applied: MemoryAppliedCommands;
  notices: NewOutboxRow[];
  journal: string[];
  clock: ManualClock;
}

function rig(over: Partial<InboxServiceOptions> = {}): Rig {
  const journal: string[] = [];
  const source = new MemoryInboxSource('net-sync-test', journal);
  const applied = new MemoryAppliedCommands(journal);
  const notices: NewOutboxRow[] = [];
  const clock = new ManualClock();
  const inbox = new InboxService({
    source,
    applied,
    pusher: null,
    storeNotice: async (row) => {
      notices.push(row);
      journal.push(`notice:${row.correlationId}`);
    },
    hasNotice: (id) => notices.some((n) => n.correlationId === id),
    // The real notice rows are core's (tested there); here a notice only says what and why.
    notice: (m: InboxMessageView, _consumer: string, reason: string, atMs: number) => ({
      correlationId: `dl-delivery-${m.stream}-${m.streamSeq}`,
      subject: 'root.solar.deadletter.command',
      body: new TextEncoder().encode(reason),
      headers: {},
      kind: 'command',
      state: 'pending-commit',
      createdAtMs: atMs,
    }),
    verify: null,
    settings: SETTINGS,
    clock,
    logger: silentLogger(),
    metrics: undefined,
    ...over,
  });
  return { inbox, source, applied, notices, journal, clock };
}

function pushRig(answers: Record<string, AgentAnswer> = {}, over: Partial<InboxServiceOptions> = {}) {
  const agent = new FakeAgentPusher(answers);
  const r = rig({ pusher: agent, ...over });
  r.inbox.start();
  return { ...r, agent };
}

const reasonOf = (row: NewOutboxRow): string => new TextDecoder().decode(row.body);
const RETRY: AgentAnswer = { kind: 'response', status: 200, body: { status: 'RETRY' } };
const DROP: AgentAnswer = { kind: 'response', status: 200, body: { status: 'DROP' } };

describe('InboxService, push mode', () => {
  it('records an applied command before it acks it', async () => {
    const { inbox, source, applied, agent, journal } = pushRig();
    const d = source.delivery({ streamSeq: 1, correlationId: 'c1' });
    await source.push(d);
    expect(agent.pushed.map((c) => c.correlationId)).toEqual(['c1']);
    expect(journal).toEqual(['record:c1', 'ack:c1']);
    expect(d.calls).toEqual(['ack']);
    expect(applied.get('c1')).toMatchObject({ streamSeq: 1, consumer: 'net-sync-test', ackedAtMs: expect.any(Number) });
    expect(applied.unacked(10)).toEqual([]);
    expect(inbox.results).toEqual({ ack: 1 });
    await inbox.stop();
  });

  it('acks a redelivery of an applied command without pushing it again', async () => {
    const { inbox, source, agent } = pushRig();
    await source.push(source.delivery({ streamSeq: 1, correlationId: 'c1' }));
    const again = source.delivery({ streamSeq: 1, correlationId: 'c1', deliveryCount: 2 });
    await source.push(again);
    // A second copy stored under the same correlation ID is absorbed too.
    const copy = source.delivery({ streamSeq: 9, correlationId: 'c1' });
    await source.push(copy);
    expect(agent.pushed).toHaveLength(1);
    expect(again.calls).toEqual(['ack']);
    expect(copy.calls).toEqual(['ack']);
    expect(inbox.results).toEqual({ ack: 1, dedup: 2 });
    await inbox.stop();
  });

  it('never pushes two copies of a command at once: a redelivery overtaking the first waits, then acked', async () => {
    let answer!: () => void;
    const pushed: string[] = [];
    const gated: AgentPusher = {
      push: (c) => {
        pushed.push(`${c.correlationId}#${c.deliveryCount}`);
        return new Promise((resolve) => {
          answer = () => resolve({ kind: 'response', status: 204, body: undefined });
        });
      },
    };
    const { inbox, source } = pushRig({}, { pusher: gated });
    const first = source.delivery({ streamSeq: 1, correlationId: 'c1', deliveryCount: 1 });
    const second = source.delivery({ streamSeq: 1, correlationId: 'c1', deliveryCount: 2 });
    const pushingFirst = source.push(first);
    await vi.waitFor(() => expect(pushed).toEqual(['c1#1']));
    const pushingSecond = source.push(second);
    // Nothing to wait on: the second copy must not reach the agent while the first is open.
    await new Promise((r) => setImmediate(r));
    expect(pushed).toEqual(['c1#1']);
    answer();
    await Promise.all([pushingFirst, pushingSecond]);
    expect(pushed).toEqual(['c1#1']);
    expect(first.calls).toEqual(['ack']);
    expect(second.calls).toEqual(['ack']);
    expect(inbox.results).toEqual({ ack: 1, dedup: 1 });
    await inbox.stop();
  });

  it('naks a RETRY with the backoff of its delivery count', async () => {
    const { inbox, source, applied, notices } = pushRig({ c1: RETRY, c2: { kind: 'response', status: 503, body: {} } });
    const first = source.delivery({ streamSeq: 1, correlationId: 'c1', deliveryCount: 1 });
    const second = source.delivery({ streamSeq: 1, correlationId: 'c1', deliveryCount: 2 });
    const unavailable = source.delivery({ streamSeq: 2, correlationId: 'c2', deliveryCount: 1 });
    for (const d of [first, second, unavailable]) await source.push(d);
    expect(first.calls).toEqual(['nak:200']);
    expect(second.calls).toEqual(['nak:1000']);
    expect(unavailable.calls).toEqual(['nak:200']);
    expect(applied.size).toBe(0);
    expect(notices).toEqual([]);
    expect(inbox.results).toEqual({ retry: 3 });
    await inbox.stop();
  });

  it('terminates a RETRY on the last allowed delivery with exactly one notice, stored before the term', async () => {
    const { inbox, source, applied, notices, journal } = pushRig({ c1: RETRY });
    const last = source.delivery({ streamSeq: 4, correlationId: 'c1', deliveryCount: SETTINGS.maxDeliver });
    await source.push(last);
    expect(last.calls).toEqual(['term:max-deliver: 3 deliveries, last: agent answered RETRY']);
    expect(notices.map((n) => n.correlationId)).toEqual(['dl-delivery-COMMANDS-4']);
    expect(reasonOf(notices[0]!)).toBe('max-deliver: 3 deliveries, last: agent answered RETRY');
    expect(journal).toEqual(['notice:dl-delivery-COMMANDS-4', 'term:c1']);
    expect(applied.size).toBe(0);
    expect(inbox.results).toEqual({ expired: 1 });
    await inbox.stop();
  });

  it('dead-letters the backstop delivery past the last unpushed (its sidecar died holding the last)', async () => {
    const { inbox, source, agent, notices, journal } = pushRig({ c1: RETRY });
    const backstop = source.delivery({ streamSeq: 4, correlationId: 'c1', deliveryCount: SETTINGS.maxDeliver + 1 });
    await source.push(backstop);
    expect(agent.pushed).toEqual([]);
    expect(backstop.calls).toEqual(['term:max-deliver: 3 deliveries, no answer']);
    expect(notices.map((n) => [n.correlationId, reasonOf(n)])).toEqual([
      ['dl-delivery-COMMANDS-4', 'max-deliver: 3 deliveries, no answer'],
    ]);
    expect(journal).toEqual(['notice:dl-delivery-COMMANDS-4', 'term:c1']);
    expect(inbox.results).toEqual({ expired: 1 });
    await inbox.stop();
  });

  it('terminates a redelivery of a dead-lettered command (its term went missing): no push, no 2nd notice', async () => {
    const { inbox, source, agent, notices } = pushRig({ c1: DROP, c2: RETRY });
    await source.push(source.delivery({ streamSeq: 1, correlationId: 'c1' }));
    await source.push(source.delivery({ streamSeq: 2, correlationId: 'c2', deliveryCount: SETTINGS.maxDeliver }));
    const again = [
      source.delivery({ streamSeq: 1, correlationId: 'c1', deliveryCount: 2 }),
      // The backstop after a crash between notice and term.
      source.delivery({ streamSeq: 2, correlationId: 'c2', deliveryCount: SETTINGS.maxDeliver + 1 }),
      // nats-server 2.9.10 can hand an exhausted message out again as a first delivery.
      source.delivery({ streamSeq: 2, correlationId: 'c2', deliveryCount: 1 }),
    ];
    for (const d of again) await source.push(d);
    expect(agent.pushed.map((c) => c.correlationId)).toEqual(['c1', 'c2']);
    for (const d of again)
      expect(d.calls, `seq ${d.streamSeq} dc ${d.deliveryCount}`).toEqual(['term:dead-lettered before']);
    expect(notices.map((n) => n.correlationId)).toEqual(['dl-delivery-COMMANDS-1', 'dl-delivery-COMMANDS-2']);
    expect(inbox.results).toEqual({ drop: 1, expired: 1, dedup: 3 });
    await inbox.stop();
  });

  it('terminates a DROP with exactly one notice and never records it', async () => {
    const { inbox, source, applied, notices } = pushRig({ c1: DROP, c2: { kind: 'response', status: 422, body: {} } });
    const dropped = source.delivery({ streamSeq: 1, correlationId: 'c1' });
    const refused = source.delivery({ streamSeq: 2, correlationId: 'c2' });
    await source.push(dropped);
    await source.push(refused);
    expect(dropped.calls).toEqual(['term:agent answered DROP']);
    expect(refused.calls).toEqual(['term:agent answered 422']);
    expect(notices.map((n) => [n.correlationId, reasonOf(n)])).toEqual([
      ['dl-delivery-COMMANDS-1', 'agent answered DROP'],
      ['dl-delivery-COMMANDS-2', 'agent answered 422'],
    ]);
    expect(applied.size).toBe(0);
    expect(inbox.results).toEqual({ drop: 2 });
    await inbox.stop();
  });

  it('dead-letters a command that fails verification without pushing it, and marks verified ones', async () => {
    const verify = async (d: InboxDelivery) =>
      d.headers['Net-Sync-Correlation-Id'] === 'forged'
        ? { ok: false, reason: 'bad-signature,no-quorum' }
        : { ok: true, reason: 'ok' };
    const { inbox, source, agent, notices } = pushRig({}, { verify });
    const forged = source.delivery({ streamSeq: 1, correlationId: 'forged' });
    await source.push(forged);
    await source.push(source.delivery({ streamSeq: 2, correlationId: 'good' }));
    expect(agent.pushed.map((c) => [c.correlationId, c.verified])).toEqual([['good', true]]);
    expect(forged.calls).toEqual(['term:unverified: bad-signature,no-quorum']);
    expect(notices.map(reasonOf)).toEqual(['unverified: bad-signature,no-quorum']);
    expect(inbox.results).toEqual({ unverified: 1, ack: 1 });
    await inbox.stop();
  });

  it('still terminates when no stream takes notices', async () => {
    const { inbox, source } = pushRig({ c1: DROP, c2: RETRY }, { storeNotice: null });
    const dropped = source.delivery({ streamSeq: 1, correlationId: 'c1' });
    const spent = source.delivery({ streamSeq: 2, correlationId: 'c2', deliveryCount: 3 });
    await source.push(dropped);
    await source.push(spent);
    expect(dropped.calls).toEqual(['term:agent answered DROP']);
    expect(spent.calls).toEqual(['term:max-deliver: 3 deliveries, last: agent answered RETRY']);
    expect(inbox.results).toEqual({ drop: 1, expired: 1 });
    await inbox.stop();
  });
});

describe('InboxService, resending acks', () => {
  it('keeps an unconfirmed ack, and marks it acked only when the source confirms the resend', async () => {
    const { inbox, source, applied, clock } = pushRig();
    source.ackConfirmed = false;
    const d = source.delivery({ streamSeq: 1, correlationId: 'c1' });
    await source.push(d);
    expect(applied.unacked(10)).toEqual([expect.objectContaining({ key: 'c1', ackSubject: d.ackSubject })]);

    expect(await inbox.resendAcks()).toBe(0);
    expect(source.subjectAcks).toEqual([d.ackSubject]);
    expect(applied.unacked(10).map((a) => a.key)).toEqual(['c1']);

    source.ackConfirmed = true;
    clock.advance(5_000);
    expect(await inbox.resendAcks()).toBe(1);
    expect(source.subjectAcks).toEqual([d.ackSubject, d.ackSubject]);
    expect(applied.unacked(10)).toEqual([]);
    expect(applied.get('c1')?.ackedAtMs).toBe(clock.now());
    expect(await inbox.resendAcks()).toBe(0);
    await inbox.stop();
  });
});

describe('InboxService, commands past their max deliveries (advisory)', () => {
  const started = (over: Partial<InboxServiceOptions> = {}) => {
    const r = rig(over);
    r.inbox.start();
    return r;
  };

  it('writes the one notice a sidecar that died on the last delivery could not write', async () => {
    const { inbox, source, notices } = started();
    const d = source.delivery({ streamSeq: 9, correlationId: 'c9', deliveryCount: 3 });
    // The server's max deliver is one above the sidecar's (the backstop).
    source.exhaust(9, 4);
    await vi.waitFor(() => expect(notices).toHaveLength(1));
    expect(notices.map((n) => [n.correlationId, reasonOf(n)])).toEqual([
      ['dl-delivery-COMMANDS-9', 'max-deliver: 3 deliveries, no answer (advisory)'],
    ]);
    // JetStream has already stopped delivering it: nothing to term.
    expect(d.calls).toEqual([]);
    expect(inbox.results).toEqual({ expired: 1 });
    await inbox.stop();
  });

  it('writes nothing for a command applied here (its ack went missing) or no longer in the stream', async () => {
    const { inbox, source, applied, notices } = started();
    source.delivery({ streamSeq: 1, correlationId: 'c1' });
    applied.record({
      key: 'c1',
      stream: 'COMMANDS',
      streamSeq: 1,
      subject: 's',
      consumer: 'net-sync-test',
      appliedAtMs: 0,
    });
    source.exhaust(1, 3);
    source.exhaust(2, 3);
    await inbox.stop();
    expect(source.storedReads).toBe(2);
    expect(notices).toEqual([]);
    expect(inbox.results).toEqual({});
  });

  it('reads the command again while NATS is away, and gives up after five reads', async () => {
    const { inbox, source, notices, clock } = started();
    source.delivery({ streamSeq: 4, correlationId: 'c4' });
    source.storedError = new Error('not connected');
    source.exhaust(4, 3);
    await vi.waitFor(() => expect(source.storedReads).toBe(1));
    clock.advance(1_000);
    await vi.waitFor(() => expect(source.storedReads).toBe(2));
    source.storedError = undefined;
    clock.advance(1_000);
    await vi.waitFor(() => expect(notices).toHaveLength(1));

    source.storedError = new Error('not connected');
    source.exhaust(4, 3);
    for (let read = 4; read <= 8; read++) {
      await vi.waitFor(() => expect(source.storedReads).toBe(read));
      clock.advance(1_000);
    }
    await inbox.stop();
    expect(source.storedReads).toBe(8);
    expect(notices).toHaveLength(1);
  });

  it('holds a delivery of the same message while its notice is written, then terminates it unpushed', async () => {
    const agent = new FakeAgentPusher();
    const { inbox, source, notices } = started({ pusher: agent });
    source.delivery({ streamSeq: 5, correlationId: 'c5', deliveryCount: 4 });
    // nats-server 2.9.10 sends the advisory and then hands the message out again as a first delivery.
    source.exhaust(5, 4);
    const again = source.delivery({ streamSeq: 5, correlationId: 'c5', deliveryCount: 1 });
    await source.push(again);
    expect(agent.pushed).toEqual([]);
    expect(again.calls).toEqual(['term:dead-lettered before']);
    expect(notices.map((n) => n.correlationId)).toEqual(['dl-delivery-COMMANDS-5']);
    await inbox.stop();
    expect(inbox.results).toEqual({ expired: 1, dedup: 1 });
  });

  it('stops listening on stop', async () => {
    const { inbox, source } = started();
    await inbox.stop();
    expect(() => source.exhaust(1, 3)).toThrow(/does not watch/);
  });
});

// The ack wait of a handed-out delivery runs on the platform's timers (PullDeliveries), not on the
// Clock, so the expiry cases fake setTimeout alone.
describe('InboxService, pull mode', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const pullRig = (over: Partial<InboxServiceOptions> = {}) => {
    const r = rig(over);
    r.inbox.start();
    return r;
  };
  const queue = (source: MemoryInboxSource, ...ds: RecordedDelivery[]): void => void source.queue.push(...ds);

  it('hands out only what the agent is to see: applied commands are acked again, forgeries dead-lettered', async () => {
    const verify = async (d: InboxDelivery) =>
      d.headers['Net-Sync-Correlation-Id'] === 'forged' ? { ok: false, reason: 'no-quorum' } : { ok: true, reason: '' };
    const { inbox, source, applied, notices } = pullRig({ verify });
    expect(inbox.mode).toBe('pull');
    applied.record({
      key: 'old',
      stream: 'COMMANDS',
      streamSeq: 1,
      subject: 's',
      consumer: 'net-sync-test',
      appliedAtMs: 1,
    });
    const old = source.delivery({ streamSeq: 1, correlationId: 'old', deliveryCount: 2 });
    const forged = source.delivery({ streamSeq: 2, correlationId: 'forged' });
    queue(source, old, forged, source.delivery({ streamSeq: 3, correlationId: 'new' }));

    const got = await inbox.pull(10, 0);
    expect(got.map((c) => [c.correlationId, c.verified, c.payload])).toEqual([['new', true, { n: 3 }]]);
    expect(got[0]!.deliveryId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(old.calls).toEqual(['ack']);
    expect(forged.calls).toEqual(['term:unverified: no-quorum']);
    expect(notices.map(reasonOf)).toEqual(['unverified: no-quorum']);
    expect(inbox.results).toEqual({ dedup: 1, unverified: 1 });
    await inbox.stop();
  });

  it('settles an answer once: ack records then acks, and the same ID then answers false', async () => {
    const { inbox, source, journal } = pullRig();
    queue(source, source.delivery({ streamSeq: 1, correlationId: 'c1' }));
    const [c] = await inbox.pull(1, 0);
    expect(await inbox.answer(c!.deliveryId, 'ack')).toBe(true);
    expect(journal).toEqual(['record:c1', 'ack:c1']);
    expect(await inbox.answer(c!.deliveryId, 'ack')).toBe(false);
    expect(await inbox.answer('no-such-delivery', 'retry')).toBe(false);
    expect(inbox.working('no-such-delivery')).toBe(false);
    expect(inbox.results).toEqual({ ack: 1 });
    await inbox.stop();
  });

  it('naks with the delay the agent asks for, else the backoff, and terminates a term with one notice', async () => {
    const { inbox, source, notices } = pullRig();
    const ds = [1, 2, 3].map((n) => source.delivery({ streamSeq: n, correlationId: `c${n}`, deliveryCount: 2 }));
    queue(source, ...ds);
    const got = await inbox.pull(3, 0);
    expect(got).toHaveLength(3);
    expect(await inbox.answer(got[0]!.deliveryId, 'retry', { delayMs: 5 })).toBe(true);
    expect(await inbox.answer(got[1]!.deliveryId, 'retry')).toBe(true);
    expect(await inbox.answer(got[2]!.deliveryId, 'drop', { reason: 'agent term: bad cohort' })).toBe(true);
    expect(ds.map((d) => d.calls)).toEqual([['nak:5'], ['nak:1000'], ['term:agent term: bad cohort']]);
    expect(notices.map(reasonOf)).toEqual(['agent term: bad cohort']);
    expect(inbox.results).toEqual({ retry: 2, drop: 1 });
    await inbox.stop();
  });

  it('forgets a delivery after the ack wait and counts it expired; working restarts the wait', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { inbox, source } = pullRig();
    const kept = source.delivery({ streamSeq: 1, correlationId: 'kept' });
    const left = source.delivery({ streamSeq: 2, correlationId: 'left' });
    queue(source, kept, left);
    const [k, l] = await inbox.pull(2, 0);

    vi.advanceTimersByTime(SETTINGS.ackWaitMs - 100);
    expect(inbox.working(k!.deliveryId)).toBe(true);
    expect(kept.calls).toEqual(['working']);
    vi.advanceTimersByTime(100);
    expect(inbox.results).toEqual({ expired: 1 });
    expect(await inbox.answer(l!.deliveryId, 'ack')).toBe(false);
    expect(left.calls).toEqual([]);

    // Kept: a full ack wait from the working call.
    vi.advanceTimersByTime(SETTINGS.ackWaitMs - 200);
    expect(await inbox.answer(k!.deliveryId, 'ack')).toBe(true);
    expect(kept.calls).toEqual(['working', 'ack']);
    expect(inbox.results).toEqual({ expired: 1, ack: 1 });
    await inbox.stop();
  });

  it('dead-letters a last delivery the agent leaves unanswered: JetStream will not deliver it again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { inbox, source, notices, journal } = pullRig();
    const last = source.delivery({ streamSeq: 7, correlationId: 'c7', deliveryCount: SETTINGS.maxDeliver });
    queue(source, last);
    const [c] = await inbox.pull(1, 0);
    vi.advanceTimersByTime(SETTINGS.ackWaitMs);
    await vi.waitFor(() => expect(last.calls).toHaveLength(1));
    const reason = 'max-deliver: 3 deliveries, last: agent did not answer in time';
    expect(last.calls).toEqual([`term:${reason}`]);
    expect(notices.map((n) => [n.correlationId, reasonOf(n)])).toEqual([['dl-delivery-COMMANDS-7', reason]]);
    expect(journal).toEqual(['notice:dl-delivery-COMMANDS-7', 'term:c7']);
    expect(inbox.results).toEqual({ expired: 1 });
    expect(await inbox.answer(c!.deliveryId, 'ack')).toBe(false);
    await inbox.stop();
  });

  it('never hands out the backstop delivery: it is dead-lettered at once', async () => {
    const { inbox, source, notices } = pullRig();
    const backstop = source.delivery({ streamSeq: 8, correlationId: 'c8', deliveryCount: SETTINGS.maxDeliver + 1 });
    queue(source, backstop);
    expect(await inbox.pull(1, 0)).toEqual([]);
    expect(backstop.calls).toEqual(['term:max-deliver: 3 deliveries, no answer']);
    expect(notices.map((n) => n.correlationId)).toEqual(['dl-delivery-COMMANDS-8']);
    expect(inbox.results).toEqual({ expired: 1 });
    await inbox.stop();
  });

  it('forgets open deliveries on stop', async () => {
    const { inbox, source } = pullRig();
    queue(source, source.delivery({ streamSeq: 1, correlationId: 'c1' }));
    const [c] = await inbox.pull(1, 0);
    await inbox.stop();
    await inbox.stop();
    expect(await inbox.answer(c!.deliveryId, 'ack')).toBe(false);
  });
});
