// The inbox in pull mode: one sidecar (consensus off) and an agent that pulls through the typed
// client. It acks most commands, naks some once, terms some, leaves one unanswered past the ack
// wait once and another every time, and SIGKILLs the sidecar between one pull and its ack. The
// agent applies a command when its ack is accepted, so applications are counted at ack time.
import { describe, expect, it } from 'vitest';
import { type InboxMessage, NetSyncClient } from '../../../src/api/client.js';
import { NetSyncError } from '../../../src/core/errors.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const SUBJECT = 'root.solar.command.cohort.assign';
const MAX_DELIVER = 3;
const MODES = [
  ...Array<string>(13).fill('ok'),
  ...Array<string>(3).fill('nak-once'),
  ...Array<string>(2).fill('term'),
  'expire-once',
  'kill',
  'ignore',
];
// Interleaved so the odd ones sit between plain acks. 'ignore' comes last: nothing waits behind
// its three ack waits, and no SIGKILL can fall before its notice is stored.
const PLAN = MODES.map((mode, i) => ({ mode, key: (i * 7) % MODES.length })).sort((a, b) => a.key - b.key);

/** What the agent saw and did, by correlation ID. */
interface Ledger {
  mode: Map<string, string>;
  deliveries: Map<string, number[]>;
  applied: Map<string, number>;
  termed: Set<string>;
  /** Answers the agent gave to delivery IDs no longer open, and whether they were accepted. */
  lateAnswers: Array<{ id: string; what: string; accepted: boolean }>;
  /** Deliveries left unanswered since the sidecar (re)started; each expires once. */
  unanswered: number;
}

/** What the agent can do besides answering: SIGKILL and restart the sidecar, read its expiry count. */
interface AgentHooks {
  crash: () => Promise<void>;
  expiredCount: () => Promise<number>;
}

// One delivery, answered as its command's mode says.
async function handle(client: NetSyncClient, m: InboxMessage, ledger: Ledger, hooks: AgentHooks): Promise<void> {
  const id = m.correlationId;
  const mode = ledger.mode.get(id) ?? 'unexpected';
  ledger.deliveries.set(id, [...(ledger.deliveries.get(id) ?? []), m.deliveryCount]);
  const late = async (what: string, answer: Promise<boolean>): Promise<void> =>
    void ledger.lateAnswers.push({ id, what, accepted: await answer });
  if (mode === 'term') {
    if (await client.termInbox(m.deliveryId, 'cohort unknown here')) ledger.termed.add(id);
  } else if (mode === 'ignore') {
    ledger.unanswered++;
  } else if (mode === 'nak-once' && m.deliveryCount === 1) {
    expect(await client.nakInbox(m.deliveryId), `nak of ${id}`).toBe(true);
  } else if (mode === 'expire-once' && m.deliveryCount === 1) {
    // Asking with `working` would keep the delivery open, so the sidecar's own count says when it expired.
    const expected = ++ledger.unanswered;
    await waitFor(async () => (await hooks.expiredCount()) >= expected, `delivery of ${id} to expire`, 5_000, 50);
    await late('ack after expiry', client.ackInbox(m.deliveryId));
  } else if (mode === 'kill' && m.deliveryCount === 1) {
    await hooks.crash();
    ledger.unanswered = 0;
    await late('ack after restart', client.ackInbox(m.deliveryId));
  } else {
    if (await client.ackInbox(m.deliveryId)) ledger.applied.set(id, (ledger.applied.get(id) ?? 0) + 1);
    if (!ledger.lateAnswers.some((a) => a.what === 'second ack'))
      await late('second ack', client.ackInbox(m.deliveryId));
  }
}

// Refusals: a bad batch size names `max`; a sidecar without inbox has none.
async function checkRefusals(sidecar: SidecarProcess, bare: SidecarProcess): Promise<void> {
  const badMax = await sidecar.get('/v1/inbox?max=0');
  expect(badMax.status).toBe(400);
  expect(badMax.json.error).toMatchObject({ code: 'INPUT_INVALID', field: 'max' });
  await expect(new NetSyncClient({ baseUrl: sidecar.url }).pullInbox({ max: 0 })).rejects.toSatisfy(
    (e) => e instanceof NetSyncError && e.code === 'INPUT_INVALID' && e.field === 'max',
  );
  const off = await bare.get('/v1/inbox');
  expect(off.status).toBe(404);
  expect(off.json.error.message).toMatch(/inbox is off/);
  expect(await new NetSyncClient({ baseUrl: bare.url }).ackInbox('anything')).toBe(false);
}

async function deliveryNotices(natsUrl: string): Promise<Array<Record<string, unknown>>> {
  return (await readStream(natsUrl, 'root.solar.deadletter.>')).messages.map(
    (m) => JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>,
  );
}

describe('inbox, pull mode, one sidecar and a pulling agent', () => {
  it('applies each acked command once, dead-letters terms and spent commands once, survives a SIGKILL', async () => {
    const nats = await useNatsServer();
    const sidecar = new SidecarProcess({
      natsUrl: nats.url,
      env: {
        NET_SYNC_LOG_LEVEL: 'warn',
        NET_SYNC_INBOX_SUBJECTS: SUBJECT,
        NET_SYNC_INBOX_ACK_WAIT_MS: '1000',
        NET_SYNC_INBOX_MAX_DELIVER: String(MAX_DELIVER),
        NET_SYNC_INBOX_BACKOFF_MS: '200',
      },
    });
    const bare = new SidecarProcess({ natsUrl: nats.url, env: { NET_SYNC_LOG_LEVEL: 'warn' } });
    registerCleanup(() => sidecar.dispose());
    registerCleanup(() => bare.dispose());
    await Promise.all([sidecar.start(), bare.start()]);
    await checkRefusals(sidecar, bare);

    const client = new NetSyncClient({ baseUrl: sidecar.url });
    const ledger: Ledger = {
      mode: new Map(),
      deliveries: new Map(),
      applied: new Map(),
      termed: new Set(),
      lateAnswers: [],
      unanswered: 0,
    };
    for (const [n, { mode }] of PLAN.entries())
      ledger.mode.set((await client.propose(SUBJECT, { mode, n })).correlationId, mode);
    const ids = [...ledger.mode.keys()];
    const want = (mode: string): string[] => ids.filter((id) => ledger.mode.get(id) === mode);
    await waitFor(
      async () => (await Promise.all(ids.map((id) => client.get(id)))).every((v) => v?.state === 'committed'),
      `all ${ids.length} intents committed`,
      20_000,
      100,
    );

    let crashes = 0;
    const hooks: AgentHooks = {
      crash: async () => {
        crashes++;
        await sidecar.kill('SIGKILL');
        await sidecar.start();
      },
      expiredCount: async () => Number((await sidecar.get('/v1/status')).json.inbox.results.expired ?? 0),
    };
    const open = (): string[] =>
      ids.filter(
        (id) => !ledger.applied.has(id) && !ledger.termed.has(id) && ledger.deliveries.get(id)?.length !== MAX_DELIVER,
      );
    const deadline = Date.now() + 40_000;
    while (open().length > 0 && Date.now() < deadline) {
      for (const m of await client.pullInbox({ max: 1, waitMs: 1_000 })) await handle(client, m, ledger, hooks);
    }
    expect(open(), 'commands neither applied, termed nor delivered to the end').toEqual([]);
    console.log(
      'inbox pull: delivery counts by mode',
      ids.map((id) => `${ledger.mode.get(id)}:${ledger.deliveries.get(id)}`),
    );

    expect(crashes).toBe(1);
    // Applied exactly once, at its ack; terms and the ignored one never.
    for (const id of ids.filter((i) => !['term', 'ignore'].includes(ledger.mode.get(i)!)))
      expect(ledger.applied.get(id), `applications of ${id} (${ledger.mode.get(id)})`).toBe(1);
    for (const id of [...want('term'), ...want('ignore')])
      expect(ledger.applied.has(id), `application of ${id} (${ledger.mode.get(id)})`).toBe(false);
    // Retried, expired and crashed commands came back once with the next delivery count.
    for (const id of [...want('nak-once'), ...want('expire-once'), ...want('kill')])
      expect(ledger.deliveries.get(id), `delivery counts of ${id} (${ledger.mode.get(id)})`).toEqual([1, 2]);
    for (const id of want('term')) expect(ledger.deliveries.get(id), `delivery counts of ${id}`).toEqual([1]);
    for (const id of want('ignore')) expect(ledger.deliveries.get(id), `delivery counts of ${id}`).toEqual([1, 2, 3]);
    // An ID answers once: a second ack, an ack after expiry and one after the restart are 404s.
    expect(ledger.lateAnswers.map(({ what, accepted }) => [what, accepted]).sort()).toEqual([
      ['ack after expiry', false],
      ['ack after restart', false],
      ['second ack', false],
    ]);

    // Exactly one delivery notice per term and per spent command, and nothing else dead-lettered.
    const dead = [...want('term'), ...want('ignore')];
    await waitFor(async () => (await deliveryNotices(nats.url)).length >= dead.length, 'the notices', 20_000, 100);
    const notices = await deliveryNotices(nats.url);
    expect(notices.map((n) => n['correlationId']).sort()).toEqual(dead.sort());
    for (const n of notices) {
      const id = n['correlationId'] as string;
      const spent = ledger.mode.get(id) === 'ignore';
      expect(n, `notice of ${id}`).toMatchObject({
        stage: 'delivery',
        subject: SUBJECT,
        kind: 'command',
        reason: spent
          ? `max-deliver: ${MAX_DELIVER} deliveries, last: agent did not answer in time`
          : 'agent term: cohort unknown here',
        deliveryCount: spent ? MAX_DELIVER : 1,
      });
    }
    // The stream holds each intent once.
    const stream = await readStream(nats.url, 'root.solar.command.>');
    for (const id of ids) expect(stream.idCounts.get(id), `copies of ${id} in the stream`).toBe(1);
  });
});
