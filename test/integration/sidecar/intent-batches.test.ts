// The batch form of POST /v1/intents (docs/contracts.md#batches) on a real sidecar process, real
// nats-server and real SQLite: a mixed batch (valid, invalid, a repeated idempotency key, a key
// reused for another payload) answered item by item; SIGKILL right after the answer, once with NATS
// away and once with NATS up (publishes racing the kill), a duplicate window of 1 s outlived before
// each restart; then every accepted item is in the stream exactly once and keyed retries answer
// with their first correlation IDs.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NetSyncClient } from '../../../src/api/client.js';
import { freePort, NatsServerProcess } from '../../../src/devkit/nats-server-process.js';
import { registerCleanup } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const SUBJECT = 'root.solar.command.sentiment.set';
const PAST_WINDOW_MS = 1_100; // the stream's duplicate window is 1 s

interface Item {
  index: number;
  correlationId?: string;
  state?: string;
  error?: { code: string; field: string; message: string };
}
interface Answer {
  errors: boolean;
  accepted: number;
  refused: number;
  items: Item[];
}

async function postBatch(
  s: SidecarProcess,
  items: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Answer & { error?: { field?: string; message?: string } } }> {
  const res = await fetch(`${s.url}/v1/intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(items),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, json: (await res.json()) as Answer & { error?: { field?: string; message?: string } } };
}

const accepted = (a: Answer): string[] =>
  a.items.flatMap((i) => (i.correlationId === undefined ? [] : [i.correlationId]));

describe('POST /v1/intents with a batch (real processes)', () => {
  it('answers each item, and commits every accepted item exactly once across SIGKILLs after the answer', async () => {
    const port = await freePort();
    const natsUrl = `nats://127.0.0.1:${port}`;
    const sidecar = new SidecarProcess({ natsUrl, env: { NET_SYNC_API_MAX_BATCH_ITEMS: '200' } });
    const config = join(sidecar.dir, 'net-sync.yaml');
    writeFileSync(
      config,
      'streams:\n' +
        '  - { name: COMMANDS, subjects: ["root.solar.command.>"], maxAge: 1h, maxBytes: 64MB, duplicateWindow: 1s }\n',
    );
    Object.assign(sidecar, { opts: { ...(sidecar as unknown as { opts: object }).opts, configFile: config } });
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
    await sidecar.start(); // NATS is not there yet

    // Whole-batch refusals.
    const empty = await postBatch(sidecar, []);
    expect([empty.status, empty.json.error?.field]).toEqual([400, 'body']);
    const tooMany = await postBatch(sidecar, Array(201).fill({ subject: SUBJECT, payload: 1 }));
    expect(tooMany.status).toBe(413);
    expect(tooMany.json.error?.message).toMatch(/api\.maxBatchItems/);
    const header = await postBatch(sidecar, [{ subject: SUBJECT, payload: 1 }], { 'idempotency-key': 'h' });
    expect([header.status, header.json.error?.field]).toEqual([400, 'idempotency-key']);
    const single = await sidecar.post('/v1/intents', { subject: SUBJECT, payload: 1, idempotencyKey: 'x' });
    expect([single.status, single.json.error?.field]).toEqual([400, 'idempotencyKey']);

    // A mixed batch with NATS away: durable before the answer, nothing published yet.
    const mixed = [
      { subject: SUBJECT, payload: { n: 0 } },
      { subject: SUBJECT, payload: { n: 1 } },
      { subject: SUBJECT, payload: { n: 2 }, idempotencyKey: 'order-a' },
      { subject: 'root.solar.elsewhere.x', payload: { n: 3 } },
      { subject: SUBJECT, payload: { n: 2 }, idempotencyKey: 'order-a' },
      { subject: SUBJECT, payload: { n: 99 }, idempotencyKey: 'order-a' },
      { subject: SUBJECT },
      { subject: SUBJECT, payload: { n: 7 }, idempotencyKey: 'order-b' },
    ];
    const first = await postBatch(sidecar, mixed);
    expect(first.status).toBe(207);
    expect(first.json).toMatchObject({ errors: true, accepted: 5, refused: 3 });
    expect(first.json.items.map((i) => i.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(first.json.items.map((i) => i.error?.field ?? i.state)).toEqual([
      'pending-commit',
      'pending-commit',
      'pending-commit',
      '[3].subject',
      'pending-commit',
      '[5].idempotencyKey',
      '[6].payload',
      'pending-commit',
    ]);
    expect(first.json.items[5]?.error?.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(first.json.items[4]?.correlationId).toBe(first.json.items[2]?.correlationId);
    await sidecar.kill('SIGKILL');

    const nats = await NatsServerProcess.start({ port });
    registerCleanup(() => nats.dispose());
    await sidecar.start();
    await waitFor(async () => (await sidecar.get('/readyz')).status === 200, 'ready with NATS', 30_000, 100);

    // NATS up: a larger batch, killed right after its 202 while its publishes are under way.
    const second = Array.from({ length: 150 }, (_, n) => ({
      subject: SUBJECT,
      payload: { batch: 2, n },
      ...(n % 2 === 0 ? { idempotencyKey: `second-${n}` } : {}),
    }));
    const secondAnswer = await postBatch(sidecar, second);
    expect(secondAnswer.status).toBe(202);
    expect(secondAnswer.json).toMatchObject({ errors: false, accepted: 150, refused: 0 });
    await sidecar.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, PAST_WINDOW_MS)); // dedupe alone cannot save a republish
    await sidecar.start();

    // Keyed retries after the restart answer with the first IDs.
    const client = new NetSyncClient({ baseUrl: sidecar.url });
    const retry = await client.proposeBatch([
      mixed[2] as { subject: string; payload: unknown },
      mixed[7] as { subject: string; payload: unknown },
      ...second.filter((_, n) => n % 2 === 0),
    ]);
    expect(retry).toMatchObject({ errors: false, refused: 0 });
    const retryIds = accepted(retry as Answer);
    expect(retryIds[0]).toBe(first.json.items[2]?.correlationId);
    expect(retryIds[1]).toBe(first.json.items[7]?.correlationId);
    const secondIds = accepted(secondAnswer.json);
    expect(retryIds.slice(2)).toEqual(secondIds.filter((_, n) => n % 2 === 0));

    await waitFor(
      async () => {
        const c = (await sidecar.status())?.outbox.command;
        return c !== undefined && c['pending-commit'] === 0 && c['in-flight'] === 0 && c.committed === 154;
      },
      'every accepted item committed',
      60_000,
      200,
    );
    const ids = new Set([...accepted(first.json), ...secondIds]);
    expect(ids.size).toBe(154);
    const stream = await readStream(natsUrl);
    for (const id of ids) expect(stream.idCounts.get(id), `copies of ${id}`).toBe(1);
    expect(stream.messages).toHaveLength(154);
    const payloads = stream.messages.map((m) => JSON.parse(new TextDecoder().decode(m.data)).payload);
    expect(
      payloads.filter((p) => p.batch === undefined && (p.n === 99 || p.n === 3)),
      'refused items never published',
    ).toEqual([]);
  });
});
