// The inbox's last-delivery gap, closed by the max-deliveries advisory: a sidecar SIGKILLed while
// its agent holds the last allowed delivery of a command never writes that command's notice,
// and JetStream will not deliver it again. Restarted, the sidecar hears nats-server's advisory
// (sent when its first pulls find the command exhausted) and writes the notice: exactly one.
import { describe, expect, it } from 'vitest';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { TestAgent } from '../../support/test-agent.js';
import { waitFor } from '../../support/wait-for.js';

const SUBJECT = 'root.solar.command.cohort.assign';
// The ack wait outlasts the restart: the advisory then comes with the restarted sidecar's pulls.
const ACK_WAIT_MS = 5_000;

describe('inbox, a command on its last delivery when the sidecar is SIGKILLed', () => {
  it('is dead-lettered once, after the restart, from the max-deliveries advisory', async () => {
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
        NET_SYNC_INBOX_MAX_DELIVER: '2',
        NET_SYNC_INBOX_BACKOFF_MS: '200',
        NET_SYNC_INBOX_PROCESSING_TIMEOUT_MS: String(ACK_WAIT_MS),
      },
    });
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
    await sidecar.start();

    const post = async (mode: string): Promise<string> => {
      const r = await sidecar.post('/v1/intents', { subject: SUBJECT, payload: { mode } });
      expect(r.status, `POST of a ${mode} intent`).toBe(202);
      return r.json.correlationId as string;
    };
    const hung = await post('hang');
    // Delivery 1 times out (processing timeout) and is retried; delivery 2 is the last.
    await waitFor(
      () => agent.arrived.some((a) => a.correlationId === hung && a.deliveryCount === 2),
      `the last delivery of ${hung} to reach the agent`,
      30_000,
      20,
    );
    await sidecar.kill('SIGKILL');
    await sidecar.start();
    const after = await post('ok');

    const notices = async (): Promise<Array<Record<string, unknown>>> =>
      (await readStream(nats.url, 'root.solar.deadletter.>')).messages.map(
        (m) => JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>,
      );
    await waitFor(
      async () => (await notices()).some((n) => n['correlationId'] === hung),
      `the notice of ${hung}`,
      30_000,
      200,
    );
    // The command behind it is delivered and applied: the exhausted one no longer holds the consumer.
    await waitFor(() => agent.appliedCounts().get(after) === 1, `the agent to apply ${after}`, 30_000, 50);
    // Once more, to see a second notice if one were coming (a restart re-reads nothing).
    await sidecar.kill('SIGKILL');
    await sidecar.start();
    await waitFor(
      async () => (await sidecar.outboxCounts())?.['pending-commit'] === 0,
      'the outbox to drain after the second restart',
      20_000,
      100,
    );

    const list = await notices();
    expect(list, 'notices in DEADLETTER').toHaveLength(1);
    expect(list[0]).toMatchObject({
      stage: 'delivery',
      correlationId: hung,
      subject: SUBJECT,
      reason: 'max-deliver: 2 deliveries, no answer',
      deliveryCount: 2,
      stream: 'COMMANDS',
    });
    expect(
      agent.arrived.filter((a) => a.correlationId === hung).map((a) => a.deliveryCount),
      `deliveries of ${hung}`,
    ).toEqual([1, 2]);
    expect(agent.appliedCounts().get(hung)).toBeUndefined();
  });
});
