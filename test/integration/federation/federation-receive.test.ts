// Federation, both ways, consensus off: two real sidecar processes on one nats-server, org
// sending to acme and acme receiving from org, a stand-in HTTP agent behind acme. Every event
// reaches the agent exactly once, has exactly one `accepted` receipt whose digest is the event's
// (checked with node:crypto alone), and reaches state `acked` at org. Forged envelopes published
// straight onto the events subject are never delivered and each gets one signed `rejected`
// receipt with its reason; a byte copy under a new message ID is absorbed; none of their
// receipts changes an event at org.
import { createHash, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, headers as natsHeaders, nanos, StorageType } from 'nats';
import { describe, expect, it } from 'vitest';
import { base64Encode, encodeEnvelope } from '../../../src/core/dsse.js';
import { signEnvelope } from '../../../src/core/federation-trust.js';
import { identityPeerId, loadIdentity } from '../../../src/mesh/identity.js';
import { Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { tempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';
import { ed25519KeyFromPeerId, paeOf } from '../../support/independent-dsse.js';

const EVENT_TYPE = 'application/vnd.root-solar.federation.event.v1+json';
const ACK_TYPE = 'application/vnd.root-solar.federation.ack.v1+json';
const EVENTS = 'root.solar.federation.outbound.events.acme';
const ACKS = 'root.solar.federation.inbound.acks.acme';

// --- An independent DSSE verifier: node:crypto and the specs (DSSE, libp2p peer IDs), nothing else.
function openEnvelope(data: Uint8Array): {
  payloadType: string;
  body: Buffer;
  signers: string[];
  json: Record<string, unknown>;
} {
  const env = JSON.parse(Buffer.from(data).toString('utf8')) as {
    payloadType: string;
    payload: string;
    signatures: Array<{ keyid: string; sig: string }>;
  };
  const body = Buffer.from(env.payload, 'base64');
  const signers = env.signatures
    .filter((s) =>
      verify(null, paeOf(env.payloadType, body), ed25519KeyFromPeerId(s.keyid), Buffer.from(s.sig, 'base64')),
    )
    .map((s) => s.keyid);
  return { payloadType: env.payloadType, body, signers, json: JSON.parse(body.toString('utf8')) };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
// ---

async function keygen(file: string, dir: string): Promise<string> {
  const r = await runCliProcess(
    ['keygen', '--out', file, '--json'],
    { PATH: process.env['PATH'] ?? '', HOME: dir },
    dir,
  );
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { peerId: string }).peerId;
}

/** The stand-in agent: records every push, answers 204. */
async function startAgent(): Promise<{ url: string; pushes: Array<Record<string, unknown>>; server: Server }> {
  const pushes: Array<Record<string, unknown>> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      pushes.push({ ...(JSON.parse(body) as Record<string, unknown>), header: req.headers['net-sync-correlation-id'] });
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/federation`, pushes, server };
}

function metric(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

describe('federation: events received, receipted and applied (consensus off)', () => {
  it('delivers each event once, receipts it, and refuses forgeries with one signed rejected receipt each', async () => {
    const nats = await useNatsServer();
    // The FEDERATION stream with a 1 s duplicate window (as the acceptance run has), so a forger can
    // reuse an event ID soon after.
    const nc = await connect({ servers: nats.url });
    registerCleanup(async () => void (await nc.close()));
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({
      name: 'FEDERATION',
      subjects: ['root.solar.federation.>'],
      storage: StorageType.File,
      duplicate_window: nanos(1_000),
    });
    const agent = await startAgent();
    registerCleanup(() => new Promise<void>((r) => agent.server.close(() => r())));

    const org = new SidecarProcess({ natsUrl: nats.url, name: 'org' });
    const acme = new SidecarProcess({ natsUrl: nats.url, name: 'acme' });
    registerCleanup(async () => void (await org.kill('SIGKILL')));
    registerCleanup(async () => void (await acme.kill('SIGKILL')));
    const orgKey = await keygen(org.keyFile, org.dir);
    const acmeKey = await keygen(acme.keyFile, acme.dir);
    const forgerDir = tempDir('forger');
    const forgerKeyFile = join(forgerDir, 'forger.key');
    await keygen(forgerKeyFile, forgerDir);
    const orgConfig = join(org.dir, 'net-sync.yaml');
    writeFileSync(
      orgConfig,
      [
        'federation:',
        '  name: org',
        `  signers: [${orgKey}]`,
        '  ackTimeoutMs: 3000',
        '  partners:',
        `    - { name: acme, send: true, keys: [${acmeKey}] }`,
        '',
      ].join('\n'),
    );
    const acmeConfig = join(acme.dir, 'net-sync.yaml');
    writeFileSync(
      acmeConfig,
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
    Object.assign(org, { opts: { natsUrl: nats.url, name: 'org', configFile: orgConfig } });
    Object.assign(acme, { opts: { natsUrl: nats.url, name: 'acme', configFile: acmeConfig } });
    await org.start();
    await acme.start();

    // 30 events from org to acme.
    const sent = new Map<string, { type: string; payload: unknown }>();
    for (let i = 0; i < 30; i++) {
      const body = { type: 'order.created', payload: { n: i } };
      const r = await org.post('/v1/federation/events', { partner: 'acme', ...body });
      expect(r.status, JSON.stringify(r.json)).toBe(202);
      sent.set(r.json.eventId as string, body);
    }
    for (const id of sent.keys())
      await waitFor(
        async () => (await org.get(`/v1/federation/events/${id}`)).json.state === 'acked',
        `${id} acked`,
        30_000,
      );
    for (const id of sent.keys()) {
      const v = (await org.get(`/v1/federation/events/${id}`)).json;
      expect(v, id).toMatchObject({
        eventId: id,
        partner: 'acme',
        state: 'acked',
        ack: { status: 'accepted', signers: [acmeKey] },
      });
      expect(Number.isFinite(Date.parse(v.ackedAt)), id).toBe(true);
    }

    // The agent: each event once, as the contract shapes it.
    await waitFor(async () => agent.pushes.length >= 30, 'pushes', 10_000);
    const byId = new Map<string, number>();
    for (const p of agent.pushes) byId.set(p['eventId'] as string, (byId.get(p['eventId'] as string) ?? 0) + 1);
    expect(byId.size).toBe(30);
    for (const [id, body] of sent) {
      expect(byId.get(id), id).toBe(1);
      const p = agent.pushes.find((x) => x['eventId'] === id)!;
      expect(p, id).toMatchObject({ eventId: id, from: 'org', ...body, signers: [orgKey], header: id });
      expect(p['streamSeq'], id).toBeGreaterThan(0);
    }

    // The stream: one accepted receipt per event, its digest the event's, signed by acme.
    const events = new Map<string, { digest: string; data: Uint8Array; msgId: string }>();
    for (const m of (await readStream(nats.url, EVENTS)).messages)
      events.set(m.msgId!, { digest: sha256(openEnvelope(m.data).body), data: m.data, msgId: m.msgId! });
    expect(events.size).toBe(30);
    const receipts = async (): Promise<
      Array<{
        msgId: string;
        headers: Record<string, string>;
        ack: Record<string, unknown>;
        signers: string[];
        payloadType: string;
      }>
    > =>
      // acme's receipts (the bad ones published by hand later are not).
      (await readStream(nats.url, ACKS)).messages
        .filter((m) => m.msgId?.startsWith('ack-'))
        .map((m) => {
          const o = openEnvelope(m.data);
          return { msgId: m.msgId!, headers: m.headers, ack: o.json, signers: o.signers, payloadType: o.payloadType };
        });
    const first = await receipts();
    expect(first.length).toBe(30);
    for (const r of first) {
      const id = r.ack['eventId'] as string;
      const e = events.get(id)!;
      expect(e, id).toBeDefined();
      expect(r.payloadType).toBe(ACK_TYPE);
      expect(r.signers, id).toEqual([acmeKey]);
      expect(r.ack, id).toMatchObject({
        schemaVersion: 1,
        eventId: id,
        msgId: id,
        digest: e.digest,
        status: 'accepted',
        from: 'acme',
        to: 'org',
      });
      expect(r.ack['reason'], id).toBeUndefined();
      expect(r.msgId, id).toBe(`ack-${id}-${e.digest.slice(0, 16)}`);
      expect(r.headers['Net-Sync-Kind'], id).toBe('federation-ack');
    }

    // Forgeries, straight onto the events subject.
    const orgSigner = new Ed25519Signer(orgKey, (await loadIdentity(org.keyFile)).raw);
    const forger = await loadIdentity(forgerKeyFile);
    const forgerSigner = new Ed25519Signer(identityPeerId(forger), forger.raw);
    const eventBody = (eventId: string, over: Record<string, unknown> = {}): Uint8Array =>
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
    // Stored, not absorbed by the stream's duplicate window (1 s): a forgery that reuses a delivered
    // event's ID is retried until the window has passed since that ID was last stored.
    const publish = async (msgId: string, data: Uint8Array): Promise<void> => {
      const h = natsHeaders();
      h.set('Nats-Msg-Id', msgId);
      for (let attempt = 0; attempt < 10; attempt++) {
        if (!(await nc.jetstream().publish(EVENTS, data, { headers: h })).duplicate) return;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`${msgId} stayed a duplicate for 5 s`);
    };
    const signed = async (body: Uint8Array, by = orgSigner): Promise<Uint8Array> =>
      encodeEnvelope(await signEnvelope(EVENT_TYPE, body, [by]));
    const [delivered, copied] = [...events.values()];
    const forged: Record<string, string> = {};
    forged['F-UNSIGNED'] = 'below-threshold';
    await publish(
      'F-UNSIGNED',
      encodeEnvelope({ payloadType: EVENT_TYPE, payload: base64Encode(eventBody('F-UNSIGNED')), signatures: [] }),
    );
    forged['F-UNKNOWN'] = 'untrusted-key';
    await publish('F-UNKNOWN', await signed(eventBody('F-UNKNOWN'), forgerSigner));
    forged['F-TAMPERED'] = 'bad-signature';
    const good = JSON.parse(new TextDecoder().decode(await signed(eventBody('F-TAMPERED')))) as { payload: string };
    await publish(
      'F-TAMPERED',
      new TextEncoder().encode(
        JSON.stringify({ ...good, payload: base64Encode(eventBody('F-TAMPERED', { payload: { forged: 'more' } })) }),
      ),
    );
    forged['F-RECIPIENT'] = 'wrong-recipient';
    await publish('F-RECIPIENT', await signed(eventBody('F-RECIPIENT', { to: 'beta' })));
    forged['F-NOTJSON'] = 'malformed';
    await publish('F-NOTJSON', new TextEncoder().encode('not json at all'));
    // Equivocation: a delivered event's ID with another payload, validly signed, past the duplicate window.
    forged[delivered!.msgId] = 'equivocation';
    await publish(delivered!.msgId, await signed(eventBody(delivered!.msgId)));
    // A byte copy of a delivered envelope under a new message ID: absorbed, no receipt.
    await publish('F-COPY', copied!.data);

    await waitFor(async () => (await receipts()).length >= 36, 'six rejected receipts', 20_000).catch(async (err) => {
      const have = new Set((await receipts()).map((r) => String(r.ack['msgId'])));
      throw new Error(`${String(err)}; no receipt yet for ${Object.keys(forged).filter((id) => !have.has(id))}`);
    });
    await new Promise((r) => setTimeout(r, 1_500)); // anything more would have come by now
    const all = await receipts();
    expect(all.length).toBe(36);
    const rejected = all.filter((r) => r.ack['status'] === 'rejected');
    expect(rejected.length).toBe(6);
    for (const [msgId, reason] of Object.entries(forged)) {
      const mine = rejected.filter((r) => r.ack['msgId'] === msgId);
      expect(mine.length, msgId).toBe(1);
      expect(mine[0]!.ack, msgId).toMatchObject({ status: 'rejected', reason, from: 'acme', to: 'org' });
      expect(mine[0]!.signers, msgId).toEqual([acmeKey]);
    }
    expect(rejected.some((r) => r.ack['msgId'] === 'F-COPY')).toBe(false);

    // Never delivered; the agent still has each event once.
    expect(agent.pushes.length).toBe(30);
    expect(agent.pushes.some((p) => String(p['type']).includes('forged'))).toBe(false);

    // Counted: acme's refusals by reason, org's receipts by result; org's events unchanged.
    const acmeMetrics = await (await fetch(`${acme.url}/metrics`)).text();
    for (const reason of Object.values(forged))
      expect(
        metric(acmeMetrics, `net_sync_federation_inbound_total{partner="org",result="refused",reason="${reason}"}`),
        reason,
      ).toBe(1);
    expect(
      metric(acmeMetrics, 'net_sync_federation_inbound_total{partner="org",result="accepted",reason="none"}'),
    ).toBe(30);
    expect(
      metric(acmeMetrics, 'net_sync_federation_inbound_total{partner="org",result="duplicate",reason="copy"}'),
    ).toBe(1);
    await waitFor(
      async () => {
        const t = await (await fetch(`${org.url}/metrics`)).text();
        return (
          metric(t, 'net_sync_federation_acks_total{partner="acme",result="unknown-event"}') +
            metric(t, 'net_sync_federation_acks_total{partner="acme",result="digest-mismatch"}') >=
          6
        );
      },
      'org read the rejected receipts',
      10_000,
    );
    const orgMetrics = await (await fetch(`${org.url}/metrics`)).text();
    expect(metric(orgMetrics, 'net_sync_federation_acks_total{partner="acme",result="applied"}')).toBe(30);
    expect(metric(orgMetrics, 'net_sync_federation_acks_total{partner="acme",result="unknown-event"}')).toBe(5);
    expect(metric(orgMetrics, 'net_sync_federation_acks_total{partner="acme",result="digest-mismatch"}')).toBe(1);
    expect(metric(orgMetrics, 'net_sync_federation_events_total{partner="acme",result="acked"}')).toBe(30);
    expect(metric(orgMetrics, 'net_sync_federation_events_total{partner="acme",result="rejected"}')).toBe(0);
    expect((await org.get(`/v1/federation/events/${delivered!.msgId}`)).json).toMatchObject({
      state: 'acked',
      ack: { status: 'accepted' },
    });

    // The ledger per partner, from both sides; `federation status` exits 0 (no gap, nothing rejected).
    const orgLedger = (await org.get('/v1/federation/partners')).json;
    expect(orgLedger).toEqual({
      partners: [
        expect.objectContaining({
          name: 'acme',
          send: true,
          sent: 30,
          acked: 30,
          rejected: 0,
          unacked: 0,
          acksRefused: 6,
        }),
      ],
      gaps: [],
      rejected: [],
    });
    expect(Number.isFinite(Date.parse(orgLedger.partners[0].lastAckAt))).toBe(true);
    expect((await acme.get('/v1/federation/partners')).json.partners).toEqual([
      expect.objectContaining({ name: 'org', receive: true, received: 30, refused: 6 }),
    ]);
    expect((await org.get('/v1/status')).json.federation.partners).toEqual([
      expect.objectContaining({ name: 'acme', sent: 30, acked: 30 }),
    ]);
    expect(await (await fetch(`${org.url}/`)).text()).toContain('id="federation"');
    const cli = (url: string, ...args: string[]) =>
      runCliProcess(['federation', 'status', '--url', url, '--json', ...args], org.env(), org.dir);
    const okStatus = await cli(org.url);
    expect(okStatus.code, okStatus.stderr).toBe(0);
    expect(JSON.parse(okStatus.stdout)).toMatchObject({ ok: true, gaps: [], rejected: [] });
    expect((await cli(org.url, '--partner', 'nobody')).code).toBe(2);

    // Bad receipts straight onto acme's acks subject: counted by result, none changes an event.
    const acmeSigner = new Ed25519Signer(acmeKey, (await loadIdentity(acme.keyFile)).raw);
    const [real] = [...events.values()];
    const ackBody = (over: Record<string, unknown>): Uint8Array =>
      new TextEncoder().encode(
        JSON.stringify({
          schemaVersion: 1,
          eventId: real!.msgId,
          msgId: real!.msgId,
          digest: real!.digest,
          status: 'rejected',
          reason: 'bad-signature',
          from: 'acme',
          to: 'org',
          receivedAt: new Date().toISOString(),
          ...over,
        }),
      );
    const signedAck = async (body: Uint8Array, by: Ed25519Signer): Promise<Uint8Array> =>
      encodeEnvelope(await signEnvelope(ACK_TYPE, body, [by]));
    const publishAck = async (msgId: string, data: Uint8Array): Promise<void> => {
      const h = natsHeaders();
      h.set('Nats-Msg-Id', msgId);
      await nc.jetstream().publish(ACKS, data, { headers: h });
    };
    const before = await (await fetch(`${org.url}/metrics`)).text();
    const acksOf = (t: string, result: string): number =>
      metric(t, `net_sync_federation_acks_total{partner="acme",result="${result}"}`);
    await publishAck(
      'BAD-UNSIGNED',
      encodeEnvelope({ payloadType: ACK_TYPE, payload: base64Encode(ackBody({})), signatures: [] }),
    );
    await publishAck('BAD-UNKNOWN-KEY', await signedAck(ackBody({}), forgerSigner));
    await publishAck('BAD-DIGEST', await signedAck(ackBody({ digest: '0'.repeat(64) }), acmeSigner));
    await publishAck('BAD-EVENT', await signedAck(ackBody({ eventId: 'NO-SUCH', msgId: 'NO-SUCH' }), acmeSigner));
    await publishAck('BAD-JSON', new TextEncoder().encode('{not json'));
    await waitFor(
      async () => {
        const t = await (await fetch(`${org.url}/metrics`)).text();
        return (
          ['invalid', 'unknown-event', 'digest-mismatch'].reduce((n, r) => n + acksOf(t, r) - acksOf(before, r), 0) >= 5
        );
      },
      'org read the bad receipts',
      10_000,
    );
    const after = await (await fetch(`${org.url}/metrics`)).text();
    expect(acksOf(after, 'invalid') - acksOf(before, 'invalid')).toBe(3);
    expect(acksOf(after, 'digest-mismatch') - acksOf(before, 'digest-mismatch')).toBe(1);
    expect(acksOf(after, 'unknown-event') - acksOf(before, 'unknown-event')).toBe(1);
    expect(acksOf(after, 'applied')).toBe(30);
    expect((await org.get(`/v1/federation/events/${real!.msgId}`)).json).toMatchObject({
      state: 'acked',
      ack: { status: 'accepted' },
    });
    expect((await org.get('/v1/federation/partners')).json).toMatchObject({ gaps: [], rejected: [] });

    // acme away: three events become gaps after ackTimeoutMs (3 s), listed by `federation status`
    // (exit 1); once acme is back they are acked and it exits 0.
    await acme.stop();
    const late: string[] = [];
    for (let i = 0; i < 3; i++)
      late.push(
        (await org.post('/v1/federation/events', { partner: 'acme', type: 'order.late', payload: { i } })).json.eventId,
      );
    await waitFor(async () => (await org.get('/v1/federation/partners')).json.gaps.length === 3, 'three gaps', 20_000);
    const gapStatus = await cli(org.url, '--partner', 'acme');
    expect(gapStatus.code, gapStatus.stderr).toBe(1);
    const gapDoc = JSON.parse(gapStatus.stdout) as { ok: boolean; gaps: Array<{ eventId: string; ageMs: number }> };
    expect(gapDoc.ok).toBe(false);
    expect(gapDoc.gaps.map((g) => g.eventId).sort()).toEqual([...late].sort());
    for (const g of gapDoc.gaps) expect(g.ageMs).toBeGreaterThanOrEqual(3_000);
    const orgMetricsGap = await (await fetch(`${org.url}/metrics`)).text();
    expect(metric(orgMetricsGap, 'net_sync_federation_unacked{partner="acme"}')).toBe(3);
    expect(metric(orgMetricsGap, 'net_sync_federation_oldest_unacked_seconds{partner="acme"}')).toBeGreaterThanOrEqual(
      3,
    );
    // `net-sync reconcile` on org's outbox reports the same gaps per partner, and exits 1.
    await org.stop();
    const gapReconcile = await org.reconcile();
    expect(gapReconcile.code, gapReconcile.stderr).toBe(1);
    const fed = (gapReconcile.report as { federation: { partners: unknown[]; gaps: Array<{ eventId: string }> } })
      .federation;
    expect(fed.gaps.map((g) => g.eventId).sort()).toEqual([...late].sort());
    expect(fed.partners).toEqual([expect.objectContaining({ name: 'acme', sent: 33, acked: 30, unacked: 3, gaps: 3 })]);
    await org.start();
    await acme.start();
    await waitFor(async () => (await cli(org.url)).code === 0, 'status ok again', 30_000);
    await waitFor(async () => agent.pushes.length >= 33, 'late events pushed', 10_000);
    expect(agent.pushes.length).toBe(33);

    // A restart of acme redelivers nothing new to the agent.
    await acme.restart();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(agent.pushes.length).toBe(33);
    expect((await receipts()).length).toBe(39);
    await org.stop();
    const okReconcile = await org.reconcile();
    expect(okReconcile.code, okReconcile.stderr).toBe(0);
    expect(okReconcile.report).toMatchObject({ aligned: true, federation: { gaps: [] } });
  });
});
