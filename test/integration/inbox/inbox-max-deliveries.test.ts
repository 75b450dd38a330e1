// The inbox dead-letters in band: the sidecar writes the notice of a command on its delivery
// number inbox.maxDeliver, and the consumer's max_deliver on the server is one higher, so a
// command whose last delivery was cut short by a SIGKILL comes back to the restarted sidecar (the
// backstop delivery) instead of ending in a max-deliveries advisory that nobody hears. Each case
// ends with exactly one notice, the command never applied, and the consumer with nothing pending.
import { describe, expect, it } from 'vitest';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { TestAgent } from '../../support/test-agent.js';
import { waitFor } from '../../support/wait-for.js';

const SUBJECT = 'root.solar.command.cohort.assign';
const ACK_WAIT_MS = 4_000;

type Notice = Record<string, unknown>;

// maxAckPending above 1 keeps a pull request open at the server while a push is under way (as in
// chaos I): the request a SIGKILLed sidecar leaves behind.
async function setup(maxDeliver: number, backoffMs: number, maxAckPending = 1) {
  const nats = await useNatsServer();
  const agent = new TestAgent();
  await agent.start();
  registerCleanup(() => agent.stop());
  const sidecar = new SidecarProcess({
    natsUrl: nats.url,
    env: {
      NET_SYNC_LOG_LEVEL: 'warn',
      NET_SYNC_INBOX_SUBJECTS: SUBJECT,
      NET_SYNC_INBOX_PUSH_URL: agent.url,
      NET_SYNC_INBOX_ACK_WAIT_MS: String(ACK_WAIT_MS),
      NET_SYNC_INBOX_MAX_DELIVER: String(maxDeliver),
      NET_SYNC_INBOX_BACKOFF_MS: String(backoffMs),
      NET_SYNC_INBOX_PROCESSING_TIMEOUT_MS: String(ACK_WAIT_MS),
      NET_SYNC_INBOX_MAX_ACK_PENDING: String(maxAckPending),
    },
  });
  registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
  await sidecar.start();
  const post = async (mode: string): Promise<string> => {
    const r = await sidecar.post('/v1/intents', { subject: SUBJECT, payload: { mode } });
    expect(r.status, `POST of a ${mode} intent`).toBe(202);
    return r.json.correlationId as string;
  };
  const notices = async (): Promise<Notice[]> =>
    (await readStream(nats.url, 'root.solar.deadletter.>')).messages.map(
      (m) => JSON.parse(new TextDecoder().decode(m.data)) as Notice,
    );
  const caughtUp = async (): Promise<boolean> => {
    const st = (await sidecar.get('/v1/status')).json as { inbox?: { consumers: Array<{ lag: number }> } };
    const lag = st.inbox?.consumers.map((c) => c.lag) ?? [];
    return lag.length === 1 && lag[0] === 0 && (await sidecar.outboxCounts())?.['pending-commit'] === 0;
  };
  // Once the notice is out and a command posted after it applied and acked, a second restart must
  // add nothing.
  const settleAndCheck = async (id: string, after: string): Promise<Notice> => {
    await waitFor(
      async () => (await notices()).some((n) => n['correlationId'] === id),
      `the notice of ${id}`,
      30_000,
      200,
    );
    await waitFor(() => agent.appliedCounts().get(after) === 1, `the agent to apply ${after}`, 30_000, 50);
    await waitFor(caughtUp, 'the consumer caught up and the outbox drained', 20_000, 100);
    await sidecar.kill('SIGKILL');
    await sidecar.start();
    await waitFor(caughtUp, 'the consumer caught up and the outbox drained after the second restart', 20_000, 100);
    const list = await notices();
    expect(list, 'notices in DEADLETTER').toHaveLength(1);
    expect(agent.appliedCounts().get(id), `${id} applied`).toBeUndefined();
    expect(agent.appliedCounts().get(after), `${after} applied`).toBe(1);
    return list[0]!;
  };
  return { agent, sidecar, post, settleAndCheck };
}

describe('inbox, a command whose last delivery is cut short by a SIGKILL', () => {
  it('the agent always fails: dead-lettered once when its sidecar was down as the backstop came due', async () => {
    const { agent, sidecar, post, settleAndCheck } = await setup(3, 200, 8);
    // The agent takes up the last delivery only after the SIGKILL: the sidecar never sees its 500.
    const last = agent.hold((p) => p.mode === 'fail' && p.deliveryCount === 3);
    const failing = await post('fail');
    await waitFor(() => last.held() === 1, `the last delivery of ${failing} to reach the agent`, 30_000, 10);
    // Down past the ack wait: nats-server tries the next delivery while no sidecar is connected.
    // Before the backstop, that trip sent the max-deliveries advisory into the void and the
    // command stayed neither applied nor dead-lettered.
    await sidecar.kill('SIGKILL');
    last.release();
    await new Promise((r) => setTimeout(r, ACK_WAIT_MS + 1_500));
    await sidecar.start();
    const after = await post('ok');
    const notice = await settleAndCheck(failing, after);
    expect(notice).toMatchObject({ stage: 'delivery', correlationId: failing, subject: SUBJECT, stream: 'COMMANDS' });
    // In band from the backstop delivery, or, when nats-server 2.9.10 counted that delivery into
    // the dead sidecar's pull request, from the advisory the restarted sidecar's first pull trips.
    expect(String(notice['reason'])).toMatch(/^max-deliver: 3 deliveries, no answer( \(advisory\))?$/);
    const seen = agent.received.filter((r) => r.correlationId === failing).map((r) => r.deliveryCount);
    console.log(`[inbox] ${failing}: agent saw deliveries ${seen.join(',')}; notice: ${String(notice['reason'])}`);
    // nats-server 2.9.10 may hand the exhausted message out again as a first delivery before its
    // advisory reaches the sidecar (docs/inbox.md): the agent may then see one more delivery 1,
    // still one notice and nothing applied (settleAndCheck). Nothing else is allowed.
    const advisory = String(notice['reason']).endsWith('(advisory)');
    expect(seen.slice(0, 3), `deliveries of ${failing}`).toEqual([1, 2, 3]);
    expect(seen.slice(3), `deliveries of ${failing} after the last`).toEqual(advisory && seen.length > 3 ? [1] : []);
  });

  it('held on its last delivery: dead-lettered once, in band, by the backstop delivery after restart', async () => {
    const { agent, sidecar, post, settleAndCheck } = await setup(2, 200);
    const hung = await post('hang');
    // Delivery 1 times out (processing timeout) and is retried; delivery 2 is the last.
    await waitFor(
      () => agent.arrived.some((a) => a.correlationId === hung && a.deliveryCount === 2),
      `the last delivery of ${hung} to reach the agent`,
      30_000,
      20,
    );
    // Restarted within the ack wait: the backstop delivery finds the new sidecar.
    await sidecar.kill('SIGKILL');
    await sidecar.start();
    const after = await post('ok');
    const notice = await settleAndCheck(hung, after);
    expect(notice).toMatchObject({
      stage: 'delivery',
      correlationId: hung,
      reason: 'max-deliver: 2 deliveries, no answer',
      deliveryCount: 3,
    });
    expect(
      agent.arrived.filter((a) => a.correlationId === hung).map((a) => a.deliveryCount),
      `deliveries of ${hung}`,
    ).toEqual([1, 2]);
  });
});
