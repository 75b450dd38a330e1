// Federation with consensus on (issue 20, cohort signing): three ORG sidecar processes on a loopback
// libp2p mesh, quorum 2, and one acme sidecar (threshold 2, consensus off) pushing to a stand-in
// agent, on one nats-server. Events posted on two ORG sidecars are stored once each, carry at least
// two distinct valid ORG signatures (checked by a DSSE verifier written here with node:crypto alone,
// no net-sync code), reach acme's agent once and get exactly one accepted receipt; every ORG
// sidecar's ledger covers every event (sent = acked), whichever member committed it. An event for a
// partner that is not allow-listed is a 400 naming `partner`; one for a partner only the proposer
// allows gathers no quorum and is never committed. `federation verify` (threshold: the quorum) exits 0.
import { createHash, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, nanos, StorageType } from 'nats';
import { beforeAll, describe, expect, it } from 'vitest';
import { meshIdentities } from '../../support/mesh-identities.js';
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
const PER_SIDECAR = 15;

// --- An independent DSSE verifier: node:crypto and the specs (DSSE, libp2p peer IDs), nothing else.
/** The distinct keyids whose signatures verify over PAE, the payload bytes and their JSON. */
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
  const signers = new Set(
    env.signatures
      .filter((s) =>
        verify(null, paeOf(env.payloadType, body), ed25519KeyFromPeerId(s.keyid), Buffer.from(s.sig, 'base64')),
      )
      .map((s) => s.keyid),
  );
  return { payloadType: env.payloadType, body, signers: [...signers], json: JSON.parse(body.toString('utf8')) };
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
      pushes.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/federation`, pushes, server };
}

/**
 * The cluster both tests share: nats-server, the agent, 3 ORG sidecars (quorum 2) and acme. ORG
 * sidecar 0 also has a second key, published from the start in `federation.signers` and acme's
 * `keys` (rotation step 1), for the rotation test to restart it on.
 */
async function startCluster() {
  const nats = await useNatsServer();
  const nc = await connect({ servers: nats.url });
  registerCleanup(async () => void (await nc.close()));
  await (await nc.jetstreamManager()).streams.add({
    name: 'FEDERATION',
    subjects: ['root.solar.federation.>'],
    storage: StorageType.File,
    duplicate_window: nanos(1_000),
  });
  const agent = await startAgent();
  registerCleanup(() => new Promise<void>((r) => agent.server.close(() => r())));

  const ids = await meshIdentities(3, 'fed-cohort');
  const acmeDir = tempDir('fed-acme');
  const acmeKey = await keygen(join(acmeDir, 'acme.key'), acmeDir);
  const rotatedFile = join(ids.dirs[0]!, 'rotated.key');
  const rotatedKey = await keygen(rotatedFile, ids.dirs[0]!);
  const signers = [...ids.peerIds, rotatedKey];
  const org = ids.dirs.map((dir, i) => {
    const config = join(dir, 'net-sync.yaml');
    writeFileSync(
      config,
      [
        'federation:',
        '  name: org',
        `  signers: [${signers.join(', ')}]`,
        '  partners:',
        `    - { name: acme, send: true, keys: [${acmeKey}] }`,
        // Only sidecar 0 may send to gamma: the others refuse to endorse such an event.
        ...(i === 0 ? [`    - { name: gamma, send: true, keys: [${acmeKey}] }`] : []),
        '',
      ].join('\n'),
    );
    return new SidecarProcess({
      natsUrl: nats.url,
      dir,
      configFile: config,
      readyTimeoutMs: 40_000,
      env: {
        NET_SYNC_LOG_LEVEL: 'warn',
        ...ids.meshEnv(i),
        NET_SYNC_CONSENSUS_QUORUM: '2',
        NET_SYNC_CONSENSUS_COHORT: ids.peerIds.join(','),
        NET_SYNC_CONSENSUS_TAKEOVER_MS: '1000',
      },
    });
  });
  const acmeConfig = join(acmeDir, 'net-sync.yaml');
  writeFileSync(
    acmeConfig,
    [
      'federation:',
      '  name: acme',
      `  signers: [${acmeKey}]`,
      `  pushUrl: ${agent.url}`,
      '  partners:',
      `    - { name: org, receive: true, threshold: 2, keys: [${signers.join(', ')}] }`,
      '',
    ].join('\n'),
  );
  const acme = new SidecarProcess({
    natsUrl: nats.url,
    name: 'acme',
    dir: acmeDir,
    configFile: acmeConfig,
    readyTimeoutMs: 40_000,
  });
  for (const s of [...org, acme]) registerCleanup(async () => void (await s.kill('SIGKILL')));
  await Promise.all([...org, acme].map((s) => s.start()));
  for (const s of org)
    await waitFor(
      async () => (await s.get('/v1/status')).json.mesh?.meshPeers >= 2,
      `sidecar :${s.port} meshed`,
      30_000,
      50,
    );
  return { nats, agent, ids, org, acme, acmeKey, rotatedFile, rotatedKey, signers };
}

describe('federation with consensus on: the cohort signs, every member keeps the ledger', () => {
  let c: Awaited<ReturnType<typeof startCluster>>;
  beforeAll(async () => {
    c = await startCluster();
  }, 120_000);

  it('commits each event once with >= 2 ORG signatures, delivers it once, and acks it on every member', async () => {
    const { nats, agent, ids, org, acme, acmeKey } = c;

    // Not allow-listed: a 400 naming `partner`, nothing stored.
    for (const partner of ['beta', 'gamma', 'nobody']) {
      const r = await org[1]!.post('/v1/federation/events', { partner, type: 'a', payload: 1 });
      expect(r, partner).toMatchObject({ status: 400, json: { error: { field: 'partner' } } });
    }
    // Allowed by its proposer only: accepted, never endorsed by a quorum.
    const lone = await org[0]!.post('/v1/federation/events', { partner: 'gamma', type: 'a', payload: 1 });
    expect(lone.status, JSON.stringify(lone.json)).toBe(202);

    // Events posted on two ORG sidecars, concurrently.
    const sent = new Map<string, { type: string; payload: unknown }>();
    await Promise.all(
      [org[0]!, org[1]!].map(async (s, k) => {
        for (let i = 0; i < PER_SIDECAR; i++) {
          const body = { type: 'order.created', payload: { from: k, n: i, note: 'é' } };
          const r = await s.post('/v1/federation/events', { partner: 'acme', ...body });
          expect(r.status, JSON.stringify(r.json)).toBe(202);
          expect(['proposed', 'pending-commit', 'in-flight', 'committed']).toContain(r.json.state);
          sent.set(r.json.eventId as string, body);
        }
      }),
    );
    const total = 2 * PER_SIDECAR;
    expect(sent.size).toBe(total);

    // Every member's view: each event acked with acme's receipt, whichever member committed it.
    for (const s of org)
      for (const id of sent.keys())
        await waitFor(
          async () => (await s.get(`/v1/federation/events/${id}`)).json.state === 'acked',
          `${id} acked on :${s.port}`,
          30_000,
          100,
        ).catch(async (err) => {
          const views = await Promise.all(org.map(async (o) => (await o.get(`/v1/federation/events/${id}`)).json));
          const logs = [...org, acme].map((o) => `--- :${o.port}\n${o.logTail(15)}`).join('\n');
          throw new Error(`${String(err)}\nviews: ${JSON.stringify(views)}\n${logs}`);
        });
    for (const s of org) {
      const v = (await s.get(`/v1/federation/events/${[...sent.keys()][0]}`)).json;
      expect(v).toMatchObject({ partner: 'acme', state: 'acked', ack: { status: 'accepted', signers: [acmeKey] } });
      expect(v.streamSeq).toBeGreaterThan(0);
    }

    // The stream: each event once, on acme's subject, with the contract's headers and >= 2 ORG signatures.
    const events = new Map<string, string>();
    const stored = await readStream(nats.url, EVENTS);
    expect(stored.messages.length).toBe(total);
    for (const m of stored.messages) {
      const id = m.msgId!;
      expect(sent.has(id), id).toBe(true);
      expect(stored.idCounts.get(id), id).toBe(1);
      expect(m.headers['Net-Sync-Correlation-Id'], id).toBe(id);
      expect(m.headers['Net-Sync-Kind'], id).toBe('federation-event');
      expect(m.headers['Net-Sync-Schema-Version'], id).toBe('1');
      expect(m.headers['Net-Sync-Partner'], id).toBe('acme');
      expect(m.headers['traceparent'], id).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const o = openEnvelope(m.data);
      expect(o.payloadType, id).toBe(EVENT_TYPE);
      expect(o.signers.length, id).toBeGreaterThanOrEqual(2);
      for (const k of o.signers) expect(ids.peerIds, id).toContain(k);
      expect(o.json, id).toMatchObject({ schemaVersion: 1, eventId: id, from: 'org', to: 'acme' });
      expect(ids.peerIds.slice(0, 2), id).toContain(o.json['origin']);
      expect({ type: o.json['type'], payload: o.json['payload'] }, id).toEqual(sent.get(id));
      events.set(id, sha256(o.body));
    }

    // acme's agent: each event once; acme's receipts: exactly one accepted per event, its digest the event's.
    await waitFor(async () => agent.pushes.length >= total, 'pushes', 10_000);
    const pushed = new Map<string, number>();
    for (const p of agent.pushes) pushed.set(p['eventId'] as string, (pushed.get(p['eventId'] as string) ?? 0) + 1);
    for (const id of sent.keys()) expect(pushed.get(id), id).toBe(1);
    expect(agent.pushes.length).toBe(total);
    const receipts = (await readStream(nats.url, ACKS)).messages.map((m) => ({
      msgId: m.msgId,
      ...openEnvelope(m.data),
    }));
    expect(receipts.length).toBe(total);
    for (const [id, digest] of events) {
      const mine = receipts.filter((r) => r.json['eventId'] === id);
      expect(mine.length, id).toBe(1);
      expect(mine[0]!.payloadType, id).toBe(ACK_TYPE);
      expect(mine[0]!.signers, id).toEqual([acmeKey]);
      expect(mine[0]!.json, id).toMatchObject({ msgId: id, digest, status: 'accepted', from: 'acme', to: 'org' });
    }

    // `federation status` on each member: sent = acked = every event, exit 0.
    for (const s of org) {
      const r = await runCliProcess(['federation', 'status', '--url', s.url, '--json'], s.env(), s.dir);
      expect(r.code, `${s.url}: ${r.stderr}`).toBe(0);
      const status = JSON.parse(r.stdout) as { partners: Array<Record<string, unknown>> };
      expect(
        status.partners.find((p) => p['name'] === 'acme'),
        s.url,
      ).toMatchObject({ sent: total, acked: total, unacked: 0, rejected: 0 });
    }

    // The audit by replay (the stream and the config alone): every envelope holds the quorum of 2.
    const audit = await runCliProcess(
      ['federation', 'verify', '--json', ...org[2]!.configArgs()],
      org[2]!.env(),
      org[2]!.dir,
    );
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    expect(JSON.parse(audit.stdout)).toMatchObject({
      events: total,
      verified: total,
      acked: total,
      gaps: [],
      badEvents: [],
      badAcks: [],
      duplicates: [],
    });

    // The lone event: one endorsement (its proposer's) is no quorum; never on gamma's subject.
    const loneView = (await org[0]!.get(`/v1/federation/events/${lone.json.eventId}`)).json;
    expect(loneView).toMatchObject({ partner: 'gamma', state: 'proposed' });
    expect((await readStream(nats.url, 'root.solar.federation.outbound.events.gamma')).messages.length).toBe(0);
    const refusals = await (await fetch(`${org[1]!.url}/metrics`)).text();
    expect(refusals).toMatch(/net_sync_consensus_intents_total\{outcome="rejected"\} [1-9]/);
  });

  it('after sidecar 0 restarts on a rotated federation key, envelopes carry the new key, never the old', async () => {
    const { nats, ids, org, rotatedFile, rotatedKey, signers } = c;
    const oldKey = ids.peerIds[0]!;
    const before = (await readStream(nats.url, EVENTS)).messages;
    expect(
      before.some((m) => openEnvelope(m.data).signers.includes(oldKey)),
      'the old key signed before',
    ).toBe(true);

    // Rotation step 2: restart on the new key file (already in signers and in acme's keys).
    expect(await org[0]!.stop()).toBe(0);
    (org[0] as unknown as { opts: { env: Record<string, string> } }).opts.env['NET_SYNC_FEDERATION_KEY_FILE'] =
      rotatedFile;
    await org[0]!.start();
    for (const s of org)
      await waitFor(
        async () => (await s.get('/v1/status')).json.mesh?.meshPeers >= 2,
        `sidecar :${s.port} meshed again`,
        30_000,
        100,
      );
    const after = new Map<string, number>();
    for (const [k, n] of [
      [0, 8],
      [1, 4],
    ] as const)
      for (let i = 0; i < n; i++) {
        const r = await org[k]!.post('/v1/federation/events', {
          partner: 'acme',
          type: 'order.rotated',
          payload: { k, i },
        });
        expect(r.status, JSON.stringify(r.json)).toBe(202);
        after.set(r.json.eventId as string, k);
      }
    for (const s of org)
      for (const id of after.keys())
        await waitFor(
          async () => (await s.get(`/v1/federation/events/${id}`)).json.state === 'acked',
          `${id} acked on :${s.port}`,
          30_000,
          100,
        );

    const stored = (await readStream(nats.url, EVENTS)).messages.filter((m) => after.has(m.msgId!));
    expect(stored.length).toBe(after.size);
    let withNewKey = 0;
    for (const m of stored) {
      const id = m.msgId!;
      const env = JSON.parse(Buffer.from(m.data).toString('utf8')) as { signatures: Array<{ keyid: string }> };
      expect(
        env.signatures.map((x) => x.keyid),
        id,
      ).not.toContain(oldKey);
      const o = openEnvelope(m.data);
      expect(o.signers.length, id).toBeGreaterThanOrEqual(2);
      for (const k of o.signers) expect(signers, id).toContain(k);
      if (o.signers.includes(rotatedKey)) withNewKey++;
    }
    expect(withNewKey, 'envelopes signed with the rotated key').toBeGreaterThan(0);
    for (const s of org) {
      const r = await runCliProcess(['federation', 'status', '--url', s.url, '--json'], s.env(), s.dir);
      expect(r.code, `${s.url}: ${r.stderr}`).toBe(0);
      const acme = (JSON.parse(r.stdout) as { partners: Array<Record<string, unknown>> }).partners[0]!;
      expect(acme['unacked'], s.url).toBe(0);
      expect(acme['sent'], s.url).toBe(acme['acked']);
    }
  });
});
