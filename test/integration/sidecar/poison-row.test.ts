// Hardening: no single row can stall the commits behind it. A 5 KiB subject is refused at the
// API; a row that would break the NATS protocol anyway (written by an older version, which took
// such subjects) goes dead at once while the rows posted after it commit, in order.
import { describe, expect, it } from 'vitest';
import { SqliteOutbox } from '../../../src/buffer/index.js';
import { buildCommandRow } from '../../../src/core/command-message.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

const SUBJECT = 'root.solar.command.sentiment.set';

describe('a poison row', () => {
  it('is refused at the API, and a stored one goes dead without holding up 50 rows behind it', async () => {
    const nats = await useNatsServer();
    const sidecar = new SidecarProcess({ natsUrl: nats.url });
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
    await sidecar.start();

    const long = `root.solar.command.${'x'.repeat(5 * 1024)}.set`;
    const refused = await sidecar.post('/v1/intents', { subject: long, payload: {} });
    expect(refused.status).toBe(400);
    expect(refused.json.error.field).toBe('subject');

    // A row an older version accepted, already in the outbox when this one starts.
    await sidecar.stop();
    const outbox = SqliteOutbox.open({ path: sidecar.bufferPath });
    const poison = buildCommandRow({
      correlationId: '01POISON0000000000000000000',
      subject: long,
      payload: { poison: true },
      origin: 'older-version',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      createdAtMs: Date.now(),
      soleEndorser: true,
    });
    await outbox.append([poison]);
    await outbox.close();
    await sidecar.start();

    const started = Date.now();
    const ids: string[] = [];
    for (let n = 0; n < 50; n++) {
      const r = await sidecar.post('/v1/intents', { subject: SUBJECT, payload: { n } });
      expect(r.status, `POST ${n}`).toBe(202);
      ids.push(r.json.correlationId);
    }
    // 50 intents and the poison row's dead-letter notice.
    await waitFor(
      async () => (await sidecar.outboxCounts())?.committed === 51,
      '50 rows (and the notice) committed behind the poison row',
      10_000,
      50,
    );
    console.log(`[poison-row] 50 rows committed ${Date.now() - started} ms after the first POST`);
    const dead = (await sidecar.get(`/v1/intents/${poison.correlationId}`)).json;
    expect(dead.state).toBe('dead');
    expect(dead.reason).toMatch(/^NATS_PROTOCOL_LIMIT: /);
    // In order: the stream holds them as they were posted.
    const stored = (await readStream(nats.url)).messages.map((m) => m.msgId);
    expect(stored).toEqual(ids);
    const notices = (await readStream(nats.url, 'root.solar.deadletter.>')).messages;
    expect(notices.map((m) => m.msgId)).toEqual([`dl-${poison.correlationId}`]);
    expect((await sidecar.get('/readyz')).status).toBe(200);
  });
});
