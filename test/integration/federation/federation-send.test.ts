// Federation, sending side, consensus off (issue 20's foundations): a real sidecar process signs
// events for a partner and commits each exactly once on the partner's events subject; the stream
// is read back and every envelope is checked with node:crypto alone (no net-sync code;
// test/support/independent-dsse.ts), as a partner's would be. A sidecar whose key is not among
// `federation.signers` refuses to start (exit 2, naming federation.keyFile).
import { verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NetSyncClient } from '../../../src/api/client.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { tempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';
import { ed25519KeyFromPeerId, paeOf } from '../../support/independent-dsse.js';

const EVENT_TYPE = 'application/vnd.root-solar.federation.event.v1+json';
const SUBJECT = 'root.solar.federation.outbound.events.acme';

// --- An independent DSSE verifier: node:crypto and the specs (DSSE, libp2p peer IDs), nothing else.
/** The keyids whose signatures verify over PAE, and the parsed payload. */
function verifyEnvelope(data: Uint8Array): { signers: string[]; payloadType: string; event: Record<string, unknown> } {
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
  return { signers, payloadType: env.payloadType, event: JSON.parse(body.toString('utf8')) as Record<string, unknown> };
}
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

function federationYaml(signers: string[], partnerKey: string): string {
  return [
    'federation:',
    '  name: org',
    `  signers: [${signers.join(', ')}]`,
    '  partners:',
    `    - { name: acme, send: true, receive: true, keys: [${partnerKey}] }`,
    `    - { name: beta, receive: true, keys: [${partnerKey}] }`,
    '',
  ].join('\n');
}

async function postEvent(
  url: string,
  body: unknown,
  key?: string,
): Promise<{ status: number; json: { eventId?: string; state?: string; error?: { field?: string } } }> {
  const res = await fetch(`${url}/v1/federation/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as never };
}

describe('federation: signed events to a partner (consensus off)', () => {
  it('commits each event once on the partner subject, signed and with the contract headers', async () => {
    const nats = await useNatsServer();
    const sidecar = new SidecarProcess({ natsUrl: nats.url });
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
    const me = await keygen(sidecar.keyFile, sidecar.dir);
    const partnerKey = await keygen(join(sidecar.dir, 'acme.key'), sidecar.dir);
    const config = join(sidecar.dir, 'net-sync.yaml');
    writeFileSync(config, federationYaml([me], partnerKey));
    Object.assign(sidecar, { opts: { natsUrl: nats.url, configFile: config } });
    await sidecar.start();

    // 40 plain events over HTTP, 10 keyed ones through the library client.
    const client = new NetSyncClient({ baseUrl: sidecar.url });
    const sent = new Map<string, { type: string; payload: unknown }>();
    for (let i = 0; i < 40; i++) {
      const body = { type: 'order.created', payload: { n: i, note: 'é' } };
      const r = await postEvent(sidecar.url, { partner: 'acme', ...body });
      expect(r.status, JSON.stringify(r.json)).toBe(202);
      expect(r.json.state).toBe('pending-commit');
      sent.set(r.json.eventId!, body);
    }
    const keyed = new Map<string, string>();
    for (let i = 0; i < 10; i++) {
      const a = await client.sendFederationEvent('acme', 'order.keyed', { k: i }, undefined, {
        idempotencyKey: `o-${i}`,
      });
      const again = await client.sendFederationEvent('acme', 'order.keyed', { k: i }, undefined, {
        idempotencyKey: `o-${i}`,
      });
      expect(again.eventId, `o-${i}`).toBe(a.eventId);
      keyed.set(`o-${i}`, a.eventId);
      sent.set(a.eventId, { type: 'order.keyed', payload: { k: i } });
    }
    expect(sent.size).toBe(50);
    for (const id of sent.keys())
      await waitFor(
        async () => (await client.getFederationEvent(id))?.state === 'committed',
        `${id} committed`,
        20_000,
      );

    // Retries after the commit, same key: the same event, nothing new; another body: 422.
    for (const [key, id] of keyed) {
      const r = await postEvent(
        sidecar.url,
        { partner: 'acme', type: 'order.keyed', payload: { k: Number(key.slice(2)) } },
        key,
      );
      expect(r, key).toMatchObject({ status: 202, json: { eventId: id, state: 'committed' } });
    }
    const conflict = await postEvent(sidecar.url, { partner: 'acme', type: 'order.keyed', payload: { k: 99 } }, 'o-0');
    expect(conflict).toMatchObject({ status: 422, json: { error: { field: 'idempotency-key' } } });

    // 400s naming the field; nothing of them is stored.
    const bad: Array<[unknown, string]> = [
      [{ partner: 'beta', type: 'a', payload: 1 }, 'partner'], // receive-only
      [{ partner: 'nobody', type: 'a', payload: 1 }, 'partner'],
      [{ partner: 'acme', type: 'a b', payload: 1 }, 'type'],
      [{ partner: 'acme', type: 'x'.repeat(65), payload: 1 }, 'type'],
      [{ partner: 'acme', type: 'a' }, 'payload'],
    ];
    for (const [body, field] of bad) {
      const r = await postEvent(sidecar.url, body);
      expect(r, JSON.stringify(body)).toMatchObject({ status: 400, json: { error: { field } } });
    }

    const view = await client.getFederationEvent([...sent.keys()][0]!);
    expect(view).toMatchObject({ partner: 'acme', state: 'committed' });
    expect(view?.streamSeq).toBeGreaterThan(0);
    expect(await client.getFederationEvent('01NOSUCHEVENT0000000000000')).toBeUndefined();

    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metrics).toContain('net_sync_federation_events_total{partner="acme",result="committed"} 50');

    // The stream: one message per event, verified independently.
    const stream = await readStream(nats.url, 'root.solar.federation.>');
    expect(stream.messages.length).toBe(50);
    for (const m of stream.messages) {
      const id = m.msgId!;
      expect(sent.has(id), id).toBe(true);
      expect(stream.idCounts.get(id), id).toBe(1);
      expect(m.subject, id).toBe(SUBJECT);
      expect(m.stream, id).toBe('FEDERATION');
      expect(m.headers['Net-Sync-Correlation-Id'], id).toBe(id);
      expect(m.headers['Net-Sync-Kind'], id).toBe('federation-event');
      expect(m.headers['Net-Sync-Schema-Version'], id).toBe('1');
      expect(m.headers['Net-Sync-Partner'], id).toBe('acme');
      expect(m.headers['traceparent'], id).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const v = verifyEnvelope(m.data);
      expect(v.payloadType, id).toBe(EVENT_TYPE);
      expect(v.signers, id).toEqual([me]);
      expect(v.event, id).toMatchObject({ schemaVersion: 1, eventId: id, from: 'org', to: 'acme', origin: me });
      expect({ type: v.event['type'], payload: v.event['payload'] }, id).toEqual(sent.get(id));
      expect(Number.isFinite(Date.parse(String(v.event['createdAt']))), id).toBe(true);
    }
  });

  it('refuses to start when its federation key is not in federation.signers (exit 2, naming federation.keyFile)', async () => {
    const nats = await useNatsServer();
    const dir = tempDir('federation-signers');
    const key = join(dir, 'net-sync.key');
    await keygen(key, dir);
    const other = await keygen(join(dir, 'other.key'), dir);
    const config = join(dir, 'net-sync.yaml');
    writeFileSync(config, federationYaml([other], other));
    const env = {
      PATH: process.env['PATH'] ?? '',
      HOME: dir,
      NET_SYNC_NATS_SERVERS: nats.url,
      NET_SYNC_BUFFER_PATH: join(dir, 'net-sync.db'),
      NET_SYNC_MESH_KEY_FILE: key,
      NET_SYNC_API_LISTEN: '127.0.0.1:0',
    };
    const r = await runCliProcess(['start', '--config', config], env, dir);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/federation\.keyFile/);
    expect(r.stderr).toMatch(/federation\.signers/);
    // A federation key file of its own that cannot be read: the same refusal.
    const missing = await runCliProcess(
      ['start', '--config', config],
      { ...env, NET_SYNC_FEDERATION_KEY_FILE: join(dir, 'absent.key') },
      dir,
    );
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toMatch(/federation\.keyFile/);
    // Its key listed, but retired (rotation step 3 done, the sidecar left on the old key).
    const me = await keygen(join(dir, 'me.key'), dir);
    writeFileSync(config, federationYaml([`{ id: ${me}, notAfter: "2026-01-01T00:00:00Z" }`, other], other));
    const retired = await runCliProcess(
      ['start', '--config', config],
      { ...env, NET_SYNC_FEDERATION_KEY_FILE: join(dir, 'me.key') },
      dir,
    );
    expect(retired.code, retired.stderr).toBe(2);
    expect(retired.stderr).toMatch(/federation\.keyFile/);
    expect(retired.stderr).toMatch(/retired/);
  });
});
