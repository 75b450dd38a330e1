// Exactly once from the agent's side: 3 sidecars, quorum 2, a stream whose duplicate window is
// 1 s. Keyed intents are retried on the same sidecar at once, then on the next sidecar 4 s later
// (past the window): every retry answers with the first correlation ID, the stream holds each
// intent once, and a retry with another payload is refused with 422 naming idempotency-key.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { meshIdentities } from '../../support/mesh-identities.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const SUBJECT = 'root.solar.command.cohort.assign';
const INTENTS = 30;

interface Answer {
  correlationId: string;
  error: { field: string };
}

async function post(s: SidecarProcess, key: string, payload: unknown): Promise<{ status: number; json: Answer }> {
  const res = await fetch(`${s.url}/v1/intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ subject: SUBJECT, payload }),
  });
  return { status: res.status, json: (await res.json()) as Answer };
}

describe('Idempotency-Key over 3 sidecars (quorum 2) and a 1 s duplicate window', () => {
  it('commits each keyed intent once, answers every retry with the first ID, refuses another body', async () => {
    const nats = await useNatsServer();
    const { dirs, peerIds, meshEnv } = await meshIdentities(3, 'idempotency');
    const sidecars = dirs.map((dir, i) => {
      const config = join(dir, 'net-sync.yaml');
      writeFileSync(
        config,
        'streams:\n' +
          '  - { name: COMMANDS, subjects: ["root.solar.command.>"], maxAge: 1h, maxBytes: 64MB, duplicateWindow: 1s }\n' +
          '  - { name: DEADLETTER, subjects: ["root.solar.deadletter.>"], maxAge: 1h, maxBytes: 64MB }\n',
      );
      return new SidecarProcess({
        natsUrl: nats.url,
        dir,
        configFile: config,
        env: {
          NET_SYNC_LOG_LEVEL: 'warn',
          ...meshEnv(i),
          NET_SYNC_CONSENSUS_QUORUM: '2',
          NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
        },
      });
    });
    for (const s of sidecars) registerCleanup(async () => void (await s.kill('SIGKILL')));
    await Promise.all(sidecars.map((s) => s.start()));
    for (const s of sidecars)
      await waitFor(async () => (await s.get('/v1/status')).json.mesh?.meshPeers >= 2, `mesh of :${s.port}`, 30_000);

    const first = new Map<string, string>();
    for (let n = 0; n < INTENTS; n++) {
      const key = `order-${n}`;
      const s = sidecars[n % 3]!;
      const a = await post(s, key, { n });
      const b = await post(s, key, { n });
      expect([a.status, b.status], `POSTs of ${key}`).toEqual([202, 202]);
      expect(b.json.correlationId, `retry of ${key} on the same sidecar`).toBe(a.json.correlationId);
      first.set(key, a.json.correlationId);
    }
    await waitFor(
      async () => (await readStream(nats.url)).messages.length >= INTENTS,
      `${INTENTS} commands in the stream`,
      30_000,
      250,
    );
    await new Promise((r) => setTimeout(r, 4_000)); // past the 1 s duplicate window
    for (let n = 0; n < INTENTS; n++) {
      const key = `order-${n}`;
      const next = sidecars[(n + 1) % 3]!;
      const again = await post(next, key, { n });
      expect(again.status, `late retry of ${key} on another sidecar`).toBe(202);
      expect(again.json.correlationId, `late retry of ${key}`).toBe(first.get(key));
      const changed = await post(next, key, { n, changed: true });
      expect(changed.status, `${key} with another payload`).toBe(422);
      expect(changed.json.error.field).toBe('idempotency-key');
    }
    const byKey = await sidecars[0]!.get(`/v1/intents?idempotencyKey=order-0`);
    expect(byKey.json.correlationId).toBe(first.get('order-0'));
    // Give any second publish time to land, then count.
    await new Promise((r) => setTimeout(r, 2_000));
    const stream = await readStream(nats.url);
    expect(stream.messages).toHaveLength(INTENTS);
    for (const [key, id] of first) expect(stream.idCounts.get(id), `copies of ${key} (${id})`).toBe(1);
  });
});
