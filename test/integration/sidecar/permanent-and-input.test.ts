// Acceptance, permanent failures and bad input (docs/exactly-once.md): a subject with no stream and a
// payload over the server's max_payload each become a dead row with a reason, nothing is
// dropped silently, reconcile reports them; bad input is a 400 naming the field.
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useNatsServer, registerCleanup } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { waitFor } from '../../support/wait-for.js';

let sidecar: SidecarProcess;
let config: string;
let natsUrl: string;

beforeAll(async () => {
  // A server whose max_payload (4 KiB) is below our API limit (64 KiB).
  const nats = await useNatsServer({ config: 'max_payload: 4096' });
  natsUrl = nats.url;
  sidecar = new SidecarProcess({ natsUrl });
  config = join(sidecar.dir, 'net-sync.yaml');
  // Only sentiment commands have a stream: root.solar.command.orphan.* has none.
  writeFileSync(
    config,
    'streams:\n  - { name: SENTIMENT, subjects: ["root.solar.command.sentiment.>"], maxAge: 1h, maxBytes: 64MB }\n' +
      // Inline up to 60 KiB (so the 10 KB payload below meets the server's 4 KiB max_payload), nothing over 64 KiB.
      'payloads: { inlineMaxBytes: 61440, maxBytes: 65536 }\n',
  );
  Object.assign(sidecar, { opts: { natsUrl, configFile: config } });
  await sidecar.start();
  registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
  await waitFor(async () => (await sidecar.get('/readyz')).status === 200, 'readyz');
});

describe('permanent failures', () => {
  it('sends no-stream and too-large intents to dead with a reason, keeps going; reconcile reports them', async () => {
    const noStream = await sidecar.post('/v1/intents', { subject: 'root.solar.command.orphan.x', payload: { a: 1 } });
    const tooLarge = await sidecar.post('/v1/intents', {
      subject: 'root.solar.command.sentiment.set',
      payload: { pad: 'x'.repeat(10_000) },
    });
    const fine = await sidecar.post('/v1/intents', {
      subject: 'root.solar.command.sentiment.set',
      payload: { ok: true },
    });
    for (const r of [noStream, tooLarge, fine]) expect(r.status).toBe(202);

    await waitFor(
      async () => (await sidecar.get(`/v1/intents/${fine.json.correlationId}`)).json.state === 'committed',
      `${fine.json.correlationId} committed`,
    );
    await waitFor(
      async () => (await sidecar.get(`/v1/intents/${noStream.json.correlationId}`)).json.state === 'dead',
      `${noStream.json.correlationId} dead`,
    );
    await waitFor(
      async () => (await sidecar.get(`/v1/intents/${tooLarge.json.correlationId}`)).json.state === 'dead',
      `${tooLarge.json.correlationId} dead`,
    );
    expect((await sidecar.get(`/v1/intents/${noStream.json.correlationId}`)).json.reason).toMatch(/^NATS_NO_STREAM/);
    expect((await sidecar.get(`/v1/intents/${tooLarge.json.correlationId}`)).json.reason).toMatch(
      /^NATS_PAYLOAD_TOO_LARGE/,
    );

    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metrics).toMatch(/net_sync_commit_rows_total\{result="dead"\} 2/);
    expect(metrics).toMatch(/net_sync_jetstream_publish_duration_seconds_count [1-9]/);
    expect(metrics).toMatch(/net_sync_outbox_rows\{state="dead",kind="command"\} 2/);

    const stream = await readStream(natsUrl);
    expect(stream.messages.map((m) => m.msgId)).toEqual([fine.json.correlationId]);

    await sidecar.kill('SIGTERM');
    const rec = await runCliProcess(['reconcile', '--json', '--config', config], sidecar.env(), sidecar.dir);
    expect(rec.code, rec.stderr).toBe(1);
    const report = JSON.parse(rec.stdout);
    expect(report.aligned).toBe(false);
    expect(report.dead.map((d: { correlationId: string }) => d.correlationId).sort()).toEqual(
      [noStream.json.correlationId, tooLarge.json.correlationId].sort(),
    );
    await sidecar.start();
  });
});

describe('bad input', () => {
  const cases: Array<[string, string, string]> = [
    ['a body that is not JSON', '{"subject": "root.solar.command.a.b", "payload": ', 'body'],
    ['a subject outside the prefix', JSON.stringify({ subject: 'other.command.a.b', payload: 1 }), 'subject'],
    ['a subject too deep', JSON.stringify({ subject: 'root.solar.command.a.b.c.d', payload: 1 }), 'subject'],
    ['a missing payload', JSON.stringify({ subject: 'root.solar.command.a.b' }), 'payload'],
    ['an unknown field', JSON.stringify({ subject: 'root.solar.command.a.b', payload: 1, priority: 3 }), 'priority'],
  ];
  for (const [what, body, field] of cases) {
    it(`answers 400 naming "${field}" for ${what}`, async () => {
      const r = await sidecar.post('/v1/intents', body);
      expect(r.status).toBe(400);
      expect(r.json.error.field).toBe(field);
      expect(r.json.error.message).toContain(field);
    });
  }

  it('answers 413 naming "payload" for a payload over payloads.maxBytes', async () => {
    const r = await sidecar.post(
      '/v1/intents',
      JSON.stringify({ subject: 'root.solar.command.a.b', payload: 'x'.repeat(70_000) }),
    );
    expect(r.status).toBe(413);
    expect(r.json.error.field).toBe('payload');
    expect(r.json.error.message).toContain('payload');
  });

  it('refuses bodies a browser could send cross-origin without a preflight (415 naming content-type)', async () => {
    const json = JSON.stringify({ subject: 'root.solar.command.sentiment.set', payload: { csrf: true } });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', null]) {
      for (const origin of [undefined, 'https://evil.example']) {
        const headers: Record<string, string> = {
          ...(origin === undefined ? {} : { origin }),
          ...(type === null ? {} : { 'content-type': type }),
        };
        const res = await fetch(`${sidecar.url}/v1/intents`, {
          method: 'POST',
          headers,
          body: type === null ? new Blob([json]) : json,
        });
        // A foreign Origin is refused before anything else (403); without one, the type is (415).
        expect(res.status, `content-type ${type}, origin ${origin}`).toBe(origin === undefined ? 415 : 403);
        const field = ((await res.json()) as { error: { field: string } }).error.field;
        expect(field).toBe(origin === undefined ? 'content-type' : 'origin');
      }
    }
  });

  it('refuses a Host that is not its own (DNS rebinding): 403 naming host', async () => {
    const port = Number(new URL(sidecar.url).port);
    const answer = (host: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/intents',
            method: 'POST',
            headers: { host, 'content-type': 'application/json' },
          },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ subject: 'root.solar.command.sentiment.set', payload: { rebind: true } }));
      });
    const evil = await answer(`rebind.evil.example:${port}`);
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body).error.field).toBe('host');
    expect((await answer(`localhost:${port}`)).status).toBe(202);
  });

  it('refuses a payload nested 10,000 deep with 400 naming payload (the same limit everywhere)', async () => {
    const deep = `${'['.repeat(10_000)}1${']'.repeat(10_000)}`;
    const r = await sidecar.post('/v1/intents', `{"subject":"root.solar.command.sentiment.set","payload":${deep}}`);
    expect(r.status).toBe(400);
    expect(r.json.error.field).toBe('payload');
    expect(r.json.error.message).toMatch(/deeper than 32 levels/);
  });

  it('answers an unknown route with the JSON error shape', async () => {
    const r = await sidecar.get('/v1/nope');
    expect(r.status).toBe(404);
    expect(r.json.error).toMatchObject({ code: 'NOT_FOUND', message: 'no route GET /v1/nope' });
  });

  it('answers 404 naming the id for an unknown intent', async () => {
    const r = await sidecar.get('/v1/intents/01NOPE');
    expect(r.status).toBe(404);
    expect(r.json.error.field).toBe('correlationId');
  });
});
