// Dead rows escalate to the dead-letter stream (docs/contracts.md: dead letters under
// `root.solar.deadletter.>`): a real sidecar on the default streams and a real nats-server whose
// max_payload (4 KiB) refuses a large intent. The row stays dead and reported; a notice of it is
// stored once in DEADLETTER; a later reconcile reports the dead row and republishes nothing.
import { describe, expect, it } from 'vitest';
import type { DeadLetterBody } from '../../../src/core/dead-letter.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

describe('dead letters', () => {
  it('publishes one notice of a refused intent to root.solar.deadletter.command', async () => {
    const nats = await useNatsServer({ config: 'max_payload: 4096' });
    const sidecar = new SidecarProcess({ natsUrl: nats.url });
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
    await sidecar.start();
    await waitFor(async () => (await sidecar.get('/readyz')).status === 200, 'readyz');

    const big = await sidecar.post('/v1/intents', {
      subject: 'root.solar.command.sentiment.set',
      payload: { pad: 'x'.repeat(10_000) },
    });
    const fine = await sidecar.post('/v1/intents', {
      subject: 'root.solar.command.sentiment.set',
      payload: { ok: true },
    });
    const id = big.json.correlationId as string;
    await waitFor(async () => (await sidecar.get(`/v1/intents/${id}`)).json.state === 'dead', `${id} dead`);
    await waitFor(
      async () => (await sidecar.get(`/v1/intents/dl-${id}`)).json.state === 'committed',
      `notice dl-${id} committed`,
    );
    expect((await sidecar.get(`/v1/intents/${fine.json.correlationId}`)).json.state).toBe('committed');

    const letters = await readStream(nats.url, 'root.solar.deadletter.>');
    expect(letters.messages).toHaveLength(1);
    const [m] = letters.messages;
    expect(m!.subject).toBe('root.solar.deadletter.command');
    expect(m!.msgId).toBe(`dl-${id}`);
    expect(m!.headers).toMatchObject({
      'Net-Sync-Correlation-Id': id,
      'Net-Sync-Kind': 'dead-letter',
      'Net-Sync-Schema-Version': '1',
    });
    const body = JSON.parse(new TextDecoder().decode(m!.data)) as DeadLetterBody;
    expect(body).toMatchObject({ correlationId: id, subject: 'root.solar.command.sentiment.set', kind: 'command' });
    expect(body.reason).toMatch(/^NATS_PAYLOAD_TOO_LARGE/);
    expect(body.messageBytes).toBeGreaterThan(10_000);

    await sidecar.kill('SIGTERM');
    const rec = await runCliProcess(['reconcile', '--json'], sidecar.env(), sidecar.dir);
    expect(rec.code, rec.stderr).toBe(1);
    expect(JSON.parse(rec.stdout).dead.map((d: { correlationId: string }) => d.correlationId)).toEqual([id]);
    expect((await readStream(nats.url, 'root.solar.deadletter.>')).messages).toHaveLength(1);
  });
});
