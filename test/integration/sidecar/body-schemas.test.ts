// Every body a real sidecar publishes follows the JSON Schema file its `Net-Sync-Schema` header
// names (docs/contracts.md#body-schemas), checked with ajv against the files under schemas/ as
// shipped: a command, a telemetry summary, peer health, pipeline lag, a dead-letter notice (a
// command over the stream's max message size), a delivery dead-letter notice (the agent DROPs a
// command), a federation event (and its decoded payload), and the inbox's push to the agent.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { SCHEMA_SOURCES } from '../../../src/core/body-schemas.js';
import { SCHEMA_FILE } from '../../../src/core/schema-names.js';
import { generateIdentity, identityPeerId, writeIdentity } from '../../../src/mesh/identity.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { tempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const INBOX_SUBJECT = 'root.solar.command.schema.apply';

function validator(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats.default(ajv);
  const dir = new URL('../../../schemas/', import.meta.url);
  for (const { file } of SCHEMA_SOURCES) ajv.addSchema(JSON.parse(readFileSync(new URL(file, dir), 'utf8')), file);
  return ajv;
}

/** An agent that records each push and DROPs (422) commands whose payload says `drop`. */
async function startAgent(): Promise<{ url: string; pushes: Array<{ headers: IncomingHttpHeaders; body: unknown }> }> {
  const pushes: Array<{ headers: IncomingHttpHeaders; body: unknown }> = [];
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => (text += d));
    req.on('end', () => {
      const body = JSON.parse(text) as { payload?: { mode?: string } };
      pushes.push({ headers: req.headers, body });
      res.writeHead(body.payload?.mode === 'drop' ? 422 : 204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registerCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/commands`, pushes };
}

function configYaml(me: string, partner: string, agentUrl: string): string {
  const streams = [
    // 2 KiB: a command with a 3 KB payload is refused for good, so it dies with a notice.
    ['COMMANDS', 'command', '2KiB'],
    ['TELEMETRY', 'telemetry', '-1'],
    ['FEDERATION', 'federation', '-1'],
    ['OBSERVABILITY', 'observability', '-1'],
    ['DEADLETTER', 'deadletter', '-1'],
  ].map(
    ([name, area, size]) =>
      `  - { name: ${name}, subjects: [root.solar.${area}.>], maxAge: 1d, maxBytes: -1, maxMsgSize: ${size} }`,
  );
  return [
    'telemetry: { scout: true, warmupMs: 0, healthIntervalMs: 500 }',
    `inbox: { subjects: [${INBOX_SUBJECT}], pushUrl: "${agentUrl}" }`,
    'federation:',
    '  name: org',
    `  signers: [${me}]`,
    `  partners: [{ name: acme, send: true, receive: true, keys: [${partner}] }]`,
    'streams:',
    ...streams,
    '',
  ].join('\n');
}

describe('body schemas', () => {
  it('every message a sidecar publishes validates against the schema its Net-Sync-Schema header names', async () => {
    const nats = await useNatsServer();
    const agent = await startAgent();
    const dir = tempDir('body-schemas');
    const sidecar = new SidecarProcess({ natsUrl: nats.url, dir, configFile: join(dir, 'net-sync.yaml') });
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
    const key = await generateIdentity();
    await writeIdentity(sidecar.keyFile, key, { force: true });
    const partner = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    writeFileSync(join(dir, 'net-sync.yaml'), configYaml(identityPeerId(key), partner, agent.url));
    await sidecar.start();

    for (const payload of [{ mode: 'ok' }, { mode: 'drop' }, { mode: 'big', pad: 'x'.repeat(3_000) }]) {
      const r = await sidecar.post('/v1/intents', { subject: INBOX_SUBJECT, payload });
      expect(r.status, JSON.stringify(r.json)).toBe(202);
    }
    const points = { points: [1, 2, 3].map((value) => ({ metric: 'schema.check', value, tags: { host: 'a' } })) };
    expect((await sidecar.post('/v1/telemetry', points)).status).toBe(202);
    const event = await sidecar.post('/v1/federation/events', {
      partner: 'acme',
      type: 'order.created',
      payload: { n: 1 },
    });
    expect(event.status, JSON.stringify(event.json)).toBe(202);

    const want = new Set<string>([
      SCHEMA_FILE.command,
      SCHEMA_FILE.telemetrySummary,
      SCHEMA_FILE.peerHealth,
      SCHEMA_FILE.pipelineLag,
      SCHEMA_FILE.deadLetter,
      SCHEMA_FILE.deliveryDeadLetter,
      SCHEMA_FILE.federationEvent,
    ]);
    let messages: Awaited<ReturnType<typeof readStream>>['messages'] = [];
    await waitFor(
      async () => {
        messages = (await readStream(nats.url, 'root.solar.>')).messages;
        const seen = new Set(messages.map((m) => m.headers['Net-Sync-Schema']));
        return [...want].every((f) => seen.has(f)) && agent.pushes.length >= 2;
      },
      'a message of every kind, and two pushes',
      30_000,
      200,
    );

    const ajv = validator();
    const check = (file: string, body: unknown, what: string): void => {
      const validate = ajv.getSchema(file);
      expect(validate, `${what}: schema ${file}`).toBeDefined();
      expect(validate!(body), `${what} against ${file}: ${JSON.stringify(validate!.errors)}`).toBe(true);
    };
    for (const m of messages) {
      const file = m.headers['Net-Sync-Schema'];
      const what = `${m.stream}#${m.seq} (${m.subject})`;
      expect(file, `${what} names its schema`).toBeDefined();
      const body = JSON.parse(Buffer.from(m.data).toString('utf8')) as { payload?: string };
      check(file!, body, what);
      if (file === SCHEMA_FILE.federationEvent)
        check(SCHEMA_FILE.federationEventPayload, JSON.parse(Buffer.from(body.payload!, 'base64').toString()), what);
    }
    for (const [i, p] of agent.pushes.entries()) {
      expect(p.headers['net-sync-schema'], `push ${i}`).toBe(SCHEMA_FILE.inboxCommand);
      check(SCHEMA_FILE.inboxCommand, p.body, `push ${i}`);
    }
  });
});
