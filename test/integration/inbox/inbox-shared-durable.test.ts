// Two sidecars share one durable consumer (`inbox.durable: workers`), each pushing to its own
// real agent; a third sidecar without inbox takes the intents. The pair works as a pool: every
// command reaches exactly one agent, once, and both agents get some of the work.
import { describe, expect, it } from 'vitest';
import { NetSyncClient } from '../../../src/api/client.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { TestAgent } from '../../support/test-agent.js';
import { waitFor } from '../../support/wait-for.js';

const SUBJECT = 'root.solar.command.cohort.assign';
const INTENTS = 60;

describe('inbox, two sidecars sharing one durable', () => {
  it('applies every command exactly once across both agents, and both agents get work', async () => {
    const nats = await useNatsServer();
    const agents = [new TestAgent(), new TestAgent()];
    for (const a of agents) {
      await a.start();
      registerCleanup(() => a.stop());
    }
    const workers = agents.map(
      (agent) =>
        new SidecarProcess({
          natsUrl: nats.url,
          env: {
            NET_SYNC_LOG_LEVEL: 'warn',
            NET_SYNC_INBOX_SUBJECTS: SUBJECT,
            NET_SYNC_INBOX_DURABLE: 'workers',
            NET_SYNC_INBOX_PUSH_URL: agent.url,
          },
        }),
    );
    const intake = new SidecarProcess({ natsUrl: nats.url, env: { NET_SYNC_LOG_LEVEL: 'warn' } });
    for (const s of [...workers, intake]) registerCleanup(() => s.dispose());
    await Promise.all([...workers, intake].map((s) => s.start()));

    const client = new NetSyncClient({ baseUrl: intake.url });
    const ids: string[] = [];
    for (let n = 0; n < INTENTS; n++) ids.push((await client.propose(SUBJECT, { mode: 'ok', n })).correlationId);

    const applied = (): Map<string, number> => {
      const all = new Map<string, number>();
      for (const a of agents) for (const [id, k] of a.appliedCounts()) all.set(id, (all.get(id) ?? 0) + k);
      return all;
    };
    await waitFor(() => ids.every((id) => applied().has(id)), `all ${INTENTS} commands applied`, 40_000, 100);
    // Once the shared consumer has nothing pending or unacknowledged, no second copy is on its way.
    await waitFor(
      async () => {
        const lags = await Promise.all(workers.map(async (w) => (await w.get('/v1/status')).json.inbox.consumers));
        return lags.every((c) => c.length === 1 && c[0].consumer === 'workers' && c[0].lag === 0);
      },
      'the shared consumer to have nothing pending or unacknowledged',
      10_000,
      100,
    );

    const split = agents.map((a) => a.appliedCounts().size);
    console.log('inbox shared durable split', split);
    const counts = applied();
    for (const id of ids) expect(counts.get(id), `applications of ${id}`).toBe(1);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    for (const [i, n] of split.entries()) expect(n, `commands applied by agent ${i}`).toBeGreaterThan(0);
    expect(split[0]! + split[1]!).toBe(INTENTS);
    // Every push was answered SUCCESS: no retries, no second copies.
    for (const a of agents) expect(a.received.every((r) => r.applied && r.deliveryCount === 1)).toBe(true);
    const stream = await readStream(nats.url, 'root.solar.command.>');
    for (const id of ids) expect(stream.idCounts.get(id), `copies of ${id} in the stream`).toBe(1);
  });
});
