// `net-sync federation verify`, the audit by replay, against a real nats-server and two real
// sidecar processes (org sends, acme receives and receipts). The audit runs as a NATS user that
// may only read the FEDERATION stream, from a directory holding nothing but the config: after
// good events and their receipts it exits 0; after forged events and bad receipts published
// straight onto the subjects it exits 1 and names exactly those; a stopped partner's event
// becomes a gap after the ack timeout.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, headers as natsHeaders, nanos, StorageType } from 'nats';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/digest.js';
import { base64Encode, decodeEnvelope, encodeEnvelope } from '../../../src/core/dsse.js';
import { signEnvelope } from '../../../src/core/federation-trust.js';
import { identityPeerId, loadIdentity } from '../../../src/mesh/identity.js';
import { Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { tempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const EVENT_TYPE = 'application/vnd.root-solar.federation.event.v1+json';
const ACK_TYPE = 'application/vnd.root-solar.federation.ack.v1+json';
const EVENTS = 'root.solar.federation.outbound.events.acme';
const ACKS = 'root.solar.federation.inbound.acks.acme';

// The auditor may read FEDERATION and nothing else: no publish on our subjects, no outbox.
const NATS_AUTH = `
authorization {
  users = [
    { user: admin, password: admin-pw }
    { user: auditor, password: auditor-pw, permissions: {
        publish: { allow: [
          "$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.INFO.FEDERATION",
          "$JS.API.CONSUMER.CREATE.FEDERATION", "$JS.API.CONSUMER.CREATE.FEDERATION.>",
          "$JS.API.CONSUMER.INFO.FEDERATION.>", "$JS.API.CONSUMER.DELETE.FEDERATION.>",
          "$JS.API.CONSUMER.MSG.NEXT.FEDERATION.>"
        ] }
        subscribe: { allow: ["_INBOX.>"] }
    } }
  ]
}
`;
const ADMIN = { NET_SYNC_NATS_USER: 'admin', NET_SYNC_NATS_PASS: 'admin-pw' };
const ADMIN_AUTH = { user: 'admin', pass: 'admin-pw' };

async function keygen(file: string, dir: string): Promise<string> {
  const r = await runCliProcess(
    ['keygen', '--out', file, '--json'],
    { PATH: process.env['PATH'] ?? '', HOME: dir },
    dir,
  );
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { peerId: string }).peerId;
}

async function startAgent(): Promise<{ url: string; pushes: number; server: Server }> {
  const agent = { url: '', pushes: 0, server: undefined as unknown as Server };
  agent.server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      agent.pushes++;
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((r) => agent.server.listen(0, '127.0.0.1', r));
  agent.url = `http://127.0.0.1:${(agent.server.address() as AddressInfo).port}/federation`;
  return agent;
}

interface Doc {
  ok: boolean;
  events: number;
  verified: number;
  acked: number;
  rejected: number;
  gaps: Array<{ partner: string; eventId: string; streamSeq: number; ageMs: number }>;
  badEvents: Array<{ msgId: string | null; streamSeq: number; reason: string }>;
  badAcks: Array<{ msgId: string | null; streamSeq: number; reason: string }>;
  duplicates: Array<{ eventId: string; msgIds: string[]; streamSeqs: number[] }>;
}

describe('federation verify: the audit by replay', () => {
  it('exits 0 on good events and receipts, 1 naming exactly the forgeries, bad receipts and gaps', async () => {
    const nats = await useNatsServer({ config: NATS_AUTH });
    const nc = await connect({ servers: nats.url, user: 'admin', pass: 'admin-pw' });
    registerCleanup(async () => void (await nc.close()));
    await (await nc.jetstreamManager()).streams.add({
      name: 'FEDERATION',
      subjects: ['root.solar.federation.>'],
      storage: StorageType.File,
      duplicate_window: nanos(1_000),
    });
    const agent = await startAgent();
    registerCleanup(() => new Promise<void>((r) => agent.server.close(() => r())));

    const orgDir = tempDir('org');
    const acmeDir = tempDir('acme');
    const common = { natsUrl: nats.url, env: ADMIN };
    const org = new SidecarProcess({ ...common, name: 'org', dir: orgDir, configFile: join(orgDir, 'org.yaml') });
    const acme = new SidecarProcess({ ...common, name: 'acme', dir: acmeDir, configFile: join(acmeDir, 'acme.yaml') });
    registerCleanup(async () => void (await org.kill('SIGKILL')));
    registerCleanup(async () => void (await acme.kill('SIGKILL')));
    const orgKey = await keygen(org.keyFile, orgDir);
    const acmeKey = await keygen(acme.keyFile, acmeDir);
    const forgerDir = tempDir('forger');
    await keygen(join(forgerDir, 'f.key'), forgerDir);
    const orgYaml = [
      'federation:',
      '  name: org',
      `  signers: [${orgKey}]`,
      '  ackTimeoutMs: 2000',
      '  partners:',
      `    - { name: acme, send: true, keys: [${acmeKey}] }`,
      '',
    ].join('\n');
    writeFileSync(join(orgDir, 'org.yaml'), orgYaml);
    writeFileSync(
      join(acmeDir, 'acme.yaml'),
      [
        'federation:',
        '  name: acme',
        `  signers: [${acmeKey}]`,
        `  pushUrl: ${agent.url}`,
        '  partners:',
        `    - { name: org, receive: true, keys: [${orgKey}] }`,
        '',
      ].join('\n'),
    );
    await Promise.all([org.start(), acme.start()]);

    // The auditor: its own empty directory with the config alone, the read-only user.
    const auditDir = tempDir('auditor');
    mkdirSync(auditDir, { recursive: true });
    writeFileSync(join(auditDir, 'net-sync.yaml'), orgYaml);
    const auditEnv = {
      PATH: process.env['PATH'] ?? '',
      HOME: auditDir,
      NET_SYNC_NATS_SERVERS: nats.url,
      NET_SYNC_NATS_USER: 'auditor',
      NET_SYNC_NATS_PASS: 'auditor-pw',
      NET_SYNC_LOG_LEVEL: 'warn',
    };
    const verify = async (...args: string[]): Promise<{ code: number | null; doc: Doc; stderr: string }> => {
      const r = await runCliProcess(
        ['federation', 'verify', '--config', join(auditDir, 'net-sync.yaml'), '--json', ...args],
        auditEnv,
        auditDir,
      );
      let doc: Doc;
      try {
        doc = JSON.parse(r.stdout) as Doc;
      } catch {
        throw new Error(`federation verify printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
      }
      return { code: r.code, doc, stderr: r.stderr };
    };

    // 10 good events, each acked.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await org.post('/v1/federation/events', { partner: 'acme', type: 'order.created', payload: { i } });
      expect(r.status, JSON.stringify(r.json)).toBe(202);
      ids.push(r.json.eventId as string);
    }
    await waitFor(
      async () => (await org.get('/v1/federation/partners')).json.partners[0].acked === 10,
      'ten acked',
      20_000,
    );
    const good = await verify();
    expect(good.code, good.stderr).toBe(0);
    expect(good.doc).toMatchObject({
      ok: true,
      events: 10,
      verified: 10,
      acked: 10,
      rejected: 0,
      gaps: [],
      badEvents: [],
      badAcks: [],
      duplicates: [],
    });

    // Forged events straight onto our events subject.
    const stored = (await readStream(nats.url, EVENTS, ADMIN_AUTH)).messages;
    const original = stored.find((m) => m.msgId === ids[0])!;
    const orgSigner = new Ed25519Signer(orgKey, (await loadIdentity(org.keyFile)).raw);
    const forger = await loadIdentity(join(forgerDir, 'f.key'));
    const forgerSigner = new Ed25519Signer(identityPeerId(forger), forger.raw);
    const body = (eventId: string, over: Record<string, unknown> = {}): Uint8Array =>
      new TextEncoder().encode(
        JSON.stringify({
          schemaVersion: 1,
          eventId,
          from: 'org',
          to: 'acme',
          type: 'order.forged',
          payload: { forged: true },
          createdAt: new Date().toISOString(),
          origin: orgKey,
          ...over,
        }),
      );
    const publish = async (subject: string, msgId: string, data: Uint8Array): Promise<void> => {
      const h = natsHeaders();
      h.set('Nats-Msg-Id', msgId);
      for (let attempt = 0; attempt < 10; attempt++) {
        if (!(await nc.jetstream().publish(subject, data, { headers: h })).duplicate) return;
        await new Promise((r) => setTimeout(r, 500)); // past the 1 s duplicate window
      }
      throw new Error(`${msgId} stayed a duplicate`);
    };
    const signed = async (b: Uint8Array, by = orgSigner): Promise<Uint8Array> =>
      encodeEnvelope(await signEnvelope(EVENT_TYPE, b, [by]));
    const tamperedFrom = JSON.parse(new TextDecoder().decode(await signed(body('F-TAMPERED')))) as object;
    const forged: Record<string, string> = {
      'F-UNSIGNED': 'below-threshold',
      'F-UNKNOWN': 'untrusted-key',
      'F-TAMPERED': 'bad-signature',
      'F-RECIPIENT': 'wrong-recipient',
      'F-NOTJSON': 'malformed',
      [ids[1]!]: 'equivocation',
    };
    await publish(
      EVENTS,
      'F-UNSIGNED',
      encodeEnvelope({ payloadType: EVENT_TYPE, payload: base64Encode(body('F-UNSIGNED')), signatures: [] }),
    );
    await publish(EVENTS, 'F-UNKNOWN', await signed(body('F-UNKNOWN'), forgerSigner));
    await publish(
      EVENTS,
      'F-TAMPERED',
      new TextEncoder().encode(
        JSON.stringify({ ...tamperedFrom, payload: base64Encode(body('F-TAMPERED', { payload: { more: 1 } })) }),
      ),
    );
    await publish(EVENTS, 'F-RECIPIENT', await signed(body('F-RECIPIENT', { to: 'beta' })));
    await publish(EVENTS, 'F-NOTJSON', new TextEncoder().encode('not json'));
    await publish(EVENTS, ids[1]!, await signed(body(ids[1]!)));
    await publish(EVENTS, 'F-COPY', original.data);

    // Bad receipts straight onto acme's acks subject.
    const acmeSigner = new Ed25519Signer(acmeKey, (await loadIdentity(acme.keyFile)).raw);
    const digest = sha256Hex(
      (decodeEnvelope(original.data) as { ok: true; envelope: { body: Uint8Array } }).envelope.body,
    );
    const ack = (over: Record<string, unknown>): Uint8Array =>
      new TextEncoder().encode(
        JSON.stringify({
          schemaVersion: 1,
          eventId: ids[0],
          msgId: ids[0],
          digest,
          status: 'rejected',
          reason: 'bad-signature',
          from: 'acme',
          to: 'org',
          receivedAt: new Date().toISOString(),
          ...over,
        }),
      );
    const signedAck = async (b: Uint8Array, by: Ed25519Signer): Promise<Uint8Array> =>
      encodeEnvelope(await signEnvelope(ACK_TYPE, b, [by]));
    const badAcks: Record<string, string> = {
      'BAD-UNSIGNED': 'below-threshold',
      'BAD-UNKNOWN-KEY': 'untrusted-key',
      'BAD-DIGEST': 'digest-mismatch',
      'BAD-EVENT': 'unknown-event',
      'BAD-JSON': 'malformed',
    };
    await publish(
      ACKS,
      'BAD-UNSIGNED',
      encodeEnvelope({ payloadType: ACK_TYPE, payload: base64Encode(ack({})), signatures: [] }),
    );
    await publish(ACKS, 'BAD-UNKNOWN-KEY', await signedAck(ack({}), forgerSigner));
    await publish(ACKS, 'BAD-DIGEST', await signedAck(ack({ digest: '0'.repeat(64) }), acmeSigner));
    await publish(ACKS, 'BAD-EVENT', await signedAck(ack({ eventId: 'NO-SUCH', msgId: 'NO-SUCH' }), acmeSigner));
    await publish(ACKS, 'BAD-JSON', new TextEncoder().encode('{not json'));

    // acme's six rejected receipts of the forgeries are real receipts of real messages: paired, not listed.
    await waitFor(
      async () =>
        (await readStream(nats.url, ACKS, ADMIN_AUTH)).messages.filter((m) => m.msgId?.startsWith('ack-')).length >= 16,
      'acme receipted the forgeries',
      20_000,
    );
    const bad = await verify();
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.doc).toMatchObject({ ok: false, events: 17, verified: 10, acked: 10, rejected: 0, gaps: [] });
    expect(Object.fromEntries(bad.doc.badEvents.map((b) => [b.msgId, b.reason]))).toEqual(forged);
    expect(bad.doc.badEvents.length).toBe(6);
    expect(bad.doc.duplicates).toEqual([
      expect.objectContaining({
        eventId: ids[0],
        msgIds: [ids[0], 'F-COPY'],
        streamSeqs: [original.seq, expect.any(Number)],
      }),
    ]);
    expect(Object.fromEntries(bad.doc.badAcks.map((b) => [b.msgId, b.reason]))).toEqual(badAcks);
    expect(bad.doc.badAcks.length).toBe(5);
    // The same findings within a window; a partner not sent to, or unknown, is a usage error.
    const since = await verify('--since', '1h', '--partner', 'acme');
    expect(since.code).toBe(1);
    expect(since.doc.badEvents.length + since.doc.badAcks.length + since.doc.duplicates.length).toBe(12);
    const human = await runCliProcess(
      ['federation', 'verify', '--config', join(auditDir, 'net-sync.yaml')],
      auditEnv,
      auditDir,
    );
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('F-TAMPERED');
    expect(human.stdout).toContain('BAD-DIGEST');
    const unknown = await runCliProcess(
      ['federation', 'verify', '--config', join(auditDir, 'net-sync.yaml'), '--partner', 'nobody'],
      auditEnv,
      auditDir,
    );
    expect(unknown.code, unknown.stderr).toBe(2);
    expect(unknown.stderr).toContain('partner');

    // acme stopped: one more event has no receipt after ackTimeoutMs (2 s), a gap.
    await acme.stop();
    const late = (await org.post('/v1/federation/events', { partner: 'acme', type: 'order.late', payload: {} })).json
      .eventId as string;
    await waitFor(
      async () => (await org.get(`/v1/federation/events/${late}`)).json.state === 'committed',
      'late committed',
      10_000,
    );
    await new Promise((r) => setTimeout(r, 2_100));
    const gap = await verify();
    expect(gap.code).toBe(1);
    expect(gap.doc.gaps).toEqual([expect.objectContaining({ partner: 'acme', eventId: late })]);
    expect(gap.doc.gaps[0]!.ageMs).toBeGreaterThanOrEqual(2_000);
    expect(agent.pushes).toBe(10);
  });
});
