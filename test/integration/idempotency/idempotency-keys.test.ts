// Acceptance of issue 16, exactly once from the agent's side: 3 sidecars, quorum 2, a stream whose
// duplicate window is 1 s. 60 keyed intents, each retried on the same sidecar, then on the next
// sidecar 4 s after the stream holds them all (past the window): every retry answers with the first
// correlation ID, a retry with another payload is refused with 422 naming idempotency-key (60/60),
// and the stream holds exactly 60 commands. Each phase is pipelined (all 60 at once) to keep the
// test short; the retries of one key never overlap its first request.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { meshIdentities } from '../../support/mesh-identities.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const SUBJECT = 'root.solar.command.cohort.assign';
const INTENTS = 60;
const PAST_WINDOW_MS = 4_000; // the stream's duplicate window is 1 s

interface Answer {
  correlationId?: string;
  error?: { field?: string };
}

async function post(s: SidecarProcess, key: string, payload: unknown): Promise<{ status: number; json: Answer }> {
  const res = await fetch(`${s.url}/v1/intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ subject: SUBJECT, payload }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, json: (await res.json()) as Answer };
}

/** Runs `check(n)` for every intent at once; returns what each failed check said, by key. */
async function everyIntent(check: (n: number) => Promise<string | null>): Promise<string[]> {
  const failures = await Promise.all(
    Array.from({ length: INTENTS }, async (_, n) => {
      const why = await check(n).catch((err: unknown) => String(err));
      return why === null ? null : `order-${n}: ${why}`;
    }),
  );
  return failures.filter((f) => f !== null);
}

async function startMesh(natsUrl: string): Promise<SidecarProcess[]> {
  const { dirs, peerIds, meshEnv } = await meshIdentities(3, 'idempotency');
  const sidecars = dirs.map((dir, i) => {
    const config = join(dir, 'net-sync.yaml');
    writeFileSync(
      config,
      'streams:\n' +
        '  - { name: COMMANDS, subjects: ["root.solar.command.>"],\n' +
        '      maxAge: 1h, maxBytes: 64MB, duplicateWindow: 1s }\n' +
        '  - { name: DEADLETTER, subjects: ["root.solar.deadletter.>"], maxAge: 1h, maxBytes: 64MB }\n',
    );
    return new SidecarProcess({
      natsUrl,
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
  return sidecars;
}

describe('Idempotency-Key over 3 sidecars (quorum 2) and a 1 s duplicate window', () => {
  it('commits each of 60 keyed intents once, answers every retry with the first ID, refuses another body', async () => {
    const nats = await useNatsServer();
    const sidecars = await startMesh(nats.url);
    const home = (n: number): SidecarProcess => sidecars[n % 3]!;
    const next = (n: number): SidecarProcess => sidecars[(n + 1) % 3]!;

    const first = new Map<string, string>();
    const firstFailures = await everyIntent(async (n) => {
      const a = await post(home(n), `order-${n}`, { n });
      if (a.status !== 202 || typeof a.json.correlationId !== 'string') return `first POST ${a.status}`;
      first.set(`order-${n}`, a.json.correlationId);
      return null;
    });
    expect(firstFailures, 'first POSTs').toEqual([]);
    expect(new Set(first.values()).size, 'distinct correlation IDs').toBe(INTENTS);

    const sameSidecar = await everyIntent(async (n) => {
      const b = await post(home(n), `order-${n}`, { n });
      if (b.status !== 202) return `retry on the same sidecar: ${b.status}`;
      return b.json.correlationId === first.get(`order-${n}`) ? null : `retry answered ${b.json.correlationId}`;
    });
    expect(sameSidecar, 'retries on the same sidecar').toEqual([]);

    await waitFor(
      async () => (await readStream(nats.url)).messages.length >= INTENTS,
      `${INTENTS} commands in the stream`,
      60_000,
      250,
    );
    await new Promise((r) => setTimeout(r, PAST_WINDOW_MS)); // past the 1 s duplicate window, once for all

    const late = await everyIntent(async (n) => {
      const again = await post(next(n), `order-${n}`, { n });
      if (again.status !== 202) return `late retry on the next sidecar: ${again.status}`;
      return again.json.correlationId === first.get(`order-${n}`)
        ? null
        : `late retry answered ${again.json.correlationId}`;
    });
    expect(late, 'late retries on the next sidecar').toEqual([]);
    const changed = await everyIntent(async (n) => {
      const c = await post(next(n), `order-${n}`, { n, changed: true });
      return c.status === 422 && c.json.error?.field === 'idempotency-key'
        ? null
        : `another payload answered ${c.status} ${JSON.stringify(c.json)}`;
    });
    expect(changed, 'retries with another payload').toEqual([]);

    const byKey = await sidecars[0]!.get('/v1/intents?idempotencyKey=order-0');
    expect(byKey.json.correlationId).toBe(first.get('order-0'));
    // A second publish of a late retry would land within a moment of its 202: give it time, then count.
    await new Promise((r) => setTimeout(r, 2_000));
    const stream = await readStream(nats.url);
    expect(stream.messages).toHaveLength(INTENTS);
    for (const [key, id] of first) expect(stream.idCounts.get(id), `copies of ${key} (${id})`).toBe(1);
  });
});
