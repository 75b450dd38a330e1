// Issue 20's acceptance run, on real parts: ORG's hub and acme's own server (nats-server 2.9.10,
// domains org / acme) started from examples/federation with ports and dirs substituted, acme's
// leaf node through a TCP proxy that cuts it; 3 ORG sidecars with consensus on (quorum 2), one
// acme sidecar (threshold 2) pushing to a stand-in agent; both streams with a 1 s duplicate
// window. 300 events from ORG sidecars 0 and 1: 100 before the cut, 100 during a 15 s leaf cut,
// then sidecar 0 restarts on a rotated federation key and 100 more flow while acme's sidecar is
// SIGKILLed and restarted (with the old key retired in its config: rotation step 3). Checked with
// an independent DSSE verifier (harness/federation-kit.ts, node:crypto only). Then forged
// envelopes, bad receipts, and a stopped partner's gaps. Figures go to test/chaos/results/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, headers as natsHeaders, type NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { base64Encode, encodeEnvelope } from '../../src/core/dsse.js';
import { type DsseSigner, signEnvelope } from '../../src/core/federation-trust.js';
import { freePort } from '../../src/devkit/nats-server-process.js';
import { identityPeerId, loadIdentity } from '../../src/mesh/identity.js';
import { Ed25519Signer } from '../../src/runtime/ed25519-keys.js';
import { meshIdentities } from '../support/mesh-identities.js';
import { registerCleanup } from '../support/nats-fixture.js';
import { ROOT, runCliProcess, SidecarProcess } from '../support/sidecar-process.js';
import { readStream } from '../support/stream-contents.js';
import { tempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { keygen, openEnvelope, sha256, startAgent, startNatsFromConfig } from './harness/federation-kit.js';
import { FaultProxy } from './harness/fault-proxy.js';
import { Prng } from './harness/prng.js';

const EXAMPLES = join(ROOT, 'examples/federation');
const EXAMPLE_ORG_KEY = '12D3KooWCDnZYTFpKPdBdG3b53acD3brgbNHqZo9Se1rV5FkWTJs';
const EXAMPLE_ACME_KEY = '12D3KooWBdF7cZCoazk3q3G9TquZKbzRzWy9mNL3ajGRKRX23jXX';
const SECRETS = { ORG_PASSWORD: 'org-pw', ACME_PASSWORD: 'acme-pw', ACME_LEAF_PASSWORD: 'leaf-pw' };
const ORG_AUTH = { user: 'org', pass: SECRETS.ORG_PASSWORD };
const ACME_AUTH = { user: 'acme', pass: SECRETS.ACME_PASSWORD };
const EVENT_TYPE = 'application/vnd.root-solar.federation.event.v1+json';
const ACK_TYPE = 'application/vnd.root-solar.federation.ack.v1+json';
const EVENTS = 'root.solar.federation.outbound.events.acme';
const ACKS = 'root.solar.federation.inbound.acks.acme';
const PER_PHASE = 100; // 3 phases: 300 events
const CUT_MS = 15_000;
const ACK_TIMEOUT_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A nats-server monitoring endpoint's JSON. */
const monitor = async (port: number, path: string): Promise<unknown> =>
  (await fetch(`http://127.0.0.1:${port}${path}`)).json();

describe('issue 20 acceptance: federation edge sync across two servers', () => {
  it('300 events through a leaf cut, a key rotation and a partner SIGKILL; forgeries; gaps', async () => {
    const t0 = Date.now();
    const figures: Record<string, unknown> = { loadBefore: readFileSync('/proc/loadavg', 'utf8').trim() };
    const dir = tempDir('fed-accept');
    const [hubPort, leafPort, acmePort] = [await freePort(), await freePort(), await freePort()];
    const [hubMonitor, acmeMonitor] = [await freePort(), await freePort()];
    const leaf = await FaultProxy.start({
      name: 'acme-leaf',
      target: { host: '127.0.0.1', port: leafPort },
      rng: new Prng(20),
    });
    registerCleanup(() => leaf.stop());
    await startNatsFromConfig(
      dir,
      'hub',
      // The leaf listens on leafPort and advertises the proxy: the hub sends its advertised
      // address to the leaf (INFO leafnode_urls), which would otherwise reconnect around the cut.
      `${readFileSync(join(EXAMPLES, 'hub.conf'), 'utf8')
        .replace('127.0.0.1:4222', `127.0.0.1:${hubPort}`)
        .replace('listen: 127.0.0.1:7422', `listen: 127.0.0.1:${leafPort}`)
        .replace('advertise: 127.0.0.1:7422', `advertise: 127.0.0.1:${leaf.port}`)
        .replace('/var/lib/nats/org-hub', join(dir, 'hub'))}\nhttp: 127.0.0.1:${hubMonitor}\n`,
      SECRETS,
    );
    await startNatsFromConfig(
      dir,
      'partner',
      `${readFileSync(join(EXAMPLES, 'partner.conf'), 'utf8')
        .replace('127.0.0.1:4223', `127.0.0.1:${acmePort}`)
        .replace('/var/lib/nats/acme', join(dir, 'acme'))}\nhttp: 127.0.0.1:${acmeMonitor}\n`,
      { ...SECRETS, ACME_HUB_URL: `nats-leaf://acme-leaf:${SECRETS.ACME_LEAF_PASSWORD}@127.0.0.1:${leaf.port}` },
    );
    const hubUrl = `nats://127.0.0.1:${hubPort}`;
    const acmeUrl = `nats://127.0.0.1:${acmePort}`;
    const agent = await startAgent();

    // Keys: ORG's three mesh keys sign federation too; sidecar 0's rotated key is published from the start.
    const ids = await meshIdentities(3, 'fed-accept-org');
    const acmeDir = tempDir('fed-accept-acme');
    const acmeKey = await keygen(join(acmeDir, 'acme.key'), acmeDir);
    const rotatedFile = join(ids.dirs[0]!, 'rotated.key');
    const rotatedKey = await keygen(rotatedFile, ids.dirs[0]!);
    const oldKey = ids.peerIds[0]!;
    const signers = [...ids.peerIds, rotatedKey];
    const window1s = (s: string) =>
      s.replaceAll('    maxBytes: 1GiB\n    sources:', '    maxBytes: 1GiB\n    duplicateWindow: 1s\n    sources:');
    const orgYaml = window1s(readFileSync(join(EXAMPLES, 'org.yaml'), 'utf8'))
      .replace(/127\.0\.0\.1:4222/, `127.0.0.1:${hubPort}`)
      .replace(`signers: [${EXAMPLE_ORG_KEY}]`, `signers: [${signers.join(', ')}]\n  ackTimeoutMs: ${ACK_TIMEOUT_MS}`)
      .replaceAll(EXAMPLE_ACME_KEY, acmeKey);
    const acmeYaml = (orgKeys: string): string =>
      window1s(readFileSync(join(EXAMPLES, 'acme.yaml'), 'utf8'))
        .replace(/127\.0\.0\.1:4223/, `127.0.0.1:${acmePort}`)
        .replace('http://127.0.0.1:8080/federation', agent.url)
        .replaceAll(EXAMPLE_ACME_KEY, acmeKey)
        .replace(`keys: [${EXAMPLE_ORG_KEY}]`, `keys: [${orgKeys}]`)
        .replace('threshold: 1', 'threshold: 2');
    expect(orgYaml).toContain('duplicateWindow: 1s');
    const org = ids.dirs.map((d, i) => {
      writeFileSync(join(d, 'org.yaml'), orgYaml);
      return new SidecarProcess({
        natsUrl: hubUrl,
        dir: d,
        configFile: join(d, 'org.yaml'),
        readyTimeoutMs: 60_000,
        env: {
          NET_SYNC_NATS_PASS: SECRETS.ORG_PASSWORD,
          NET_SYNC_LOG_LEVEL: 'warn',
          ...ids.meshEnv(i),
          NET_SYNC_CONSENSUS_QUORUM: '2',
          NET_SYNC_CONSENSUS_COHORT: ids.peerIds.join(','),
          // With 1 s (load 26-38) a takeover's copy was stored 1.3-1.5 s after a slow rank 0's, past
          // the 1 s window, in two runs of three (docs/federation.md, takeovers): 3 s leaves rank 0
          // time to commit; no ORG sidecar dies while events flow, so none needs taking over.
          NET_SYNC_CONSENSUS_TAKEOVER_MS: '3000',
        },
      });
    });
    const acmeConfig = join(acmeDir, 'acme.yaml');
    writeFileSync(acmeConfig, acmeYaml(signers.join(', ')));
    expect(readFileSync(acmeConfig, 'utf8')).toContain('threshold: 2');
    const acme = new SidecarProcess({
      natsUrl: acmeUrl,
      name: 'acme',
      dir: acmeDir,
      configFile: acmeConfig,
      readyTimeoutMs: 60_000,
      env: { NET_SYNC_NATS_PASS: SECRETS.ACME_PASSWORD, NET_SYNC_LOG_LEVEL: 'warn' },
    });
    for (const s of [...org, acme]) registerCleanup(async () => void (await s.kill('SIGKILL')));
    for (const s of [org[0]!, acme]) {
      const r = await runCliProcess(['streams', 'apply', ...s.configArgs(), '--json'], s.env(), s.dir);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    await Promise.all([...org, acme].map((s) => s.start()));
    for (const s of org)
      await waitFor(
        async () => (await s.get('/v1/status')).json.mesh?.meshPeers >= 2,
        `:${s.port} meshed`,
        60_000,
        100,
      );
    const hubNc = await connect({ servers: hubUrl, ...ORG_AUTH });
    registerCleanup(async () => void (await hubNc.close()));
    const acmeNc = await connect({ servers: acmeUrl, ...ACME_AUTH });
    registerCleanup(async () => void (await acmeNc.close()));
    for (const [nc, name] of [
      [hubNc, 'FEDERATION'],
      [acmeNc, 'ACME_FED'],
    ] as const)
      expect((await (await nc.jetstreamManager()).streams.info(name)).config.duplicate_window, name).toBe(1e9);

    // Posting: each poster sends its share one after another, paced; every answer is a 202.
    const sent = new Map<string, { by: number; phase: string; postedAtMs: number }>();
    // `lanes` requests in flight per sidecar (a POST with consensus on took ~0.6 s at load 20).
    const post = async (k: number, n: number, phase: string, gapMs: number, lanes = 4): Promise<void> => {
      let next = 0;
      const lane = async (): Promise<void> => {
        for (let i = next++; i < n; i = next++) {
          const r = await org[k]!.post('/v1/federation/events', {
            partner: 'acme',
            type: 'order.created',
            payload: { phase, k, i, note: 'é' },
          });
          expect(r.status, JSON.stringify(r.json)).toBe(202);
          sent.set(r.json.eventId as string, { by: k, phase, postedAtMs: Date.now() });
          if (gapMs > 0) await sleep(gapMs);
        }
      };
      await Promise.all(Array.from({ length: lanes }, lane));
    };
    const status = async (s: SidecarProcess) => {
      const r = await runCliProcess(['federation', 'status', '--url', s.url, '--json'], s.env(), s.dir);
      const doc = JSON.parse(r.stdout) as { partners: Array<Record<string, number>>; gaps: Array<{ eventId: string }> };
      return { code: r.code, acme: doc.partners.find((p) => (p as unknown as { name: string }).name === 'acme')!, doc };
    };
    const ackedEverywhere = async (n: number, what: string, timeoutMs: number): Promise<void> => {
      for (const s of org)
        await waitFor(
          async () => (await s.get('/v1/federation/partners')).json.partners[0].acked >= n,
          `${what}: ${n} acked on :${s.port}`,
          timeoutMs,
          250,
        ).catch(async (err) => {
          const p = await Promise.all(org.map(async (o) => (await o.get('/v1/federation/partners')).json.partners[0]));
          throw new Error(
            `${String(err)}\n${JSON.stringify(p)}\n` +
              [...org, acme].map((o) => `--- ${o.name}:${o.port}\n${o.logTail(15)}`).join('\n'),
          );
        });
    };

    // Phase A: 100 events, the leaf up.
    await Promise.all([post(0, PER_PHASE / 2, 'A', 20), post(1, PER_PHASE / 2, 'A', 20)]);
    await ackedEverywhere(PER_PHASE, 'phase A', 120_000);

    // Phase B: the leaf cut for 15 s, 100 events posted during it. Our ledger sees them unacked;
    // NATS's sources are sampled to record what 2.9.10 reports meanwhile.
    // Before it, acme's one leaf connection runs through the proxy.
    expect(leaf.connections, 'leaf connections through the proxy').toBe(1);
    expect(((await monitor(hubMonitor, '/leafz')) as { leafnodes: number }).leafnodes).toBe(1);
    await leaf.cut();
    const cutAt = Date.now();
    await Promise.all([post(0, PER_PHASE / 2, 'B', 0), post(1, PER_PHASE / 2, 'B', 0)]);
    figures['postingDuringCutMs'] = Date.now() - cutAt;
    await sleep(Math.max(0, cutAt + CUT_MS / 2 - Date.now()));
    // Sampled on every member until one shows acme unacked > 0 (bounded by the cut).
    let during = await status(org[2]!);
    const samples: unknown[] = [];
    const hubLeafz = async () => (await monitor(hubMonitor, '/leafz')) as { leafnodes: number; leafs: unknown[] };
    for (let i = 0; i < 20 && Date.now() < cutAt + CUT_MS - 1_000; i++) {
      // The cut is real: the hub has no leaf connection (none around the proxy).
      const hubLeafs = await hubLeafz();
      expect(hubLeafs.leafnodes, `hub's leaf connections during the cut: ${JSON.stringify(hubLeafs)}`).toBe(0);
      const views = await Promise.all(org.map((s) => status(s)));
      samples.push(views.map((v) => v.acme['unacked']));
      const hit = views.find((v) => v.acme['unacked']! > 0);
      if (hit !== undefined) {
        during = hit;
        break;
      }
      await sleep(500);
    }
    const acmeSource = (await (await acmeNc.jetstreamManager()).streams.info('ACME_FED')).sources?.[0];
    const hubSource = (await (await hubNc.jetstreamManager()).streams.info('FEDERATION')).sources?.[0];
    figures['duringCut'] = {
      atMs: Date.now() - cutAt,
      unackedSamples: samples,
      ledger: during.acme,
      statusExit: during.code,
      natsAcmeSourceOfFederation: acmeSource,
      natsHubSourceOfAcmeFed: hubSource,
      proxy: { state: leaf.state, connections: leaf.connections, stats: leaf.stats },
      hubLeafz: await hubLeafz(),
      acmeLeafz: await monitor(acmeMonitor, '/leafz'),
    };
    console.log(JSON.stringify(figures['duringCut']));
    // Two runs of 2026-12-07 saw all 200 acked during the cut: the hub had sent the leaf its
    // listen address (INFO leafnode_urls; `no_advertise` does not stop that on 2.9.10), and the
    // leaf reconnected to it around the proxy. hub.conf's `advertise` now names the proxy.
    expect(
      during.acme['unacked'],
      `acme unacked during the cut: ${JSON.stringify(figures['duringCut'])}`,
    ).toBeGreaterThan(0);
    await sleep(Math.max(0, cutAt + CUT_MS - Date.now()));
    expect((await hubLeafz()).leafnodes, 'hub leaf connections at the end of the cut').toBe(0);
    await leaf.heal();
    const healAt = Date.now();
    figures['cutMs'] = healAt - cutAt;
    await ackedEverywhere(2 * PER_PHASE, 'phase B', 120_000);
    figures['catchUpAfterHealMs'] = Date.now() - healAt;

    // Rotation: sidecar 0 restarts on its new key (step 2); acme retires the old key later (step 3).
    expect(await org[0]!.stop()).toBe(0);
    const rotatedAt = Date.now();
    (org[0] as unknown as { opts: { env: Record<string, string> } }).opts.env['NET_SYNC_FEDERATION_KEY_FILE'] =
      rotatedFile;
    await org[0]!.start();
    for (const s of org)
      await waitFor(
        async () => (await s.get('/v1/status')).json.mesh?.meshPeers >= 2,
        `:${s.port} meshed again`,
        60_000,
        100,
      );

    // Phase C: 100 events while acme's sidecar is SIGKILLed and restarted.
    let killAt = 0;
    const crash = (async () => {
      await waitFor(
        async () => [...sent.values()].filter((v) => v.phase === 'C').length >= 30,
        'phase C under way',
        60_000,
        50,
      );
      await acme.kill('SIGKILL');
      killAt = Date.now();
      await sleep(1_000);
      // Rotation step 3: the old key retired, at acme and in ORG's published signers (read by `federation verify`).
      const retired = [`{ id: ${oldKey}, notAfter: "${new Date().toISOString()}" }`, ...signers.slice(1)].join(', ');
      writeFileSync(acmeConfig, acmeYaml(retired));
      for (const d of ids.dirs)
        writeFileSync(
          join(d, 'org.yaml'),
          orgYaml.replace(`signers: [${signers.join(', ')}]`, `signers: [${retired}]`),
        );
      await acme.start();
    })();
    await Promise.all([post(0, PER_PHASE / 2, 'C', 60), post(1, PER_PHASE / 2, 'C', 60), crash]);
    expect(killAt).toBeGreaterThan(0);
    await ackedEverywhere(3 * PER_PHASE, 'phase C', 180_000);
    expect(sent.size).toBe(3 * PER_PHASE);

    // ORG's stream: each event once, >= 2 ORG signatures; after the rotation never the old key.
    const orgEvents = (await readStream(hubUrl, EVENTS, ORG_AUTH)).messages;
    const copies = new Map<string, typeof orgEvents>();
    for (const m of orgEvents) copies.set(m.msgId!, [...(copies.get(m.msgId!) ?? []), m]);
    const storedTwice = [...copies].filter(([, ms]) => ms.length > 1);
    figures['storedTwice'] = storedTwice.map(([id, ms]) => ({
      id,
      ...sent.get(id),
      copies: ms.map((m) => ({
        seq: m.seq,
        atMs: m.timeMs - t0,
        endorsers: m.headers['Net-Sync-Endorsers'],
        sameBytes: Buffer.from(m.data).equals(Buffer.from(ms[0]!.data)),
      })),
    }));
    expect(storedTwice.length, `stored twice: ${JSON.stringify(figures['storedTwice'])}`).toBe(0);
    expect(orgEvents.length).toBe(3 * PER_PHASE);
    const digests = new Map<string, string>();
    let withRotated = 0;
    let createdAfterRotation = 0;
    for (const m of orgEvents) {
      const id = m.msgId!;
      expect(sent.has(id), id).toBe(true);
      expect(digests.has(id), `${id} stored twice`).toBe(false);
      const o = openEnvelope(m.data);
      expect(o.payloadType, id).toBe(EVENT_TYPE);
      expect(o.signers.length, id).toBeGreaterThanOrEqual(2);
      for (const k of o.signers) expect(signers, id).toContain(k);
      expect(o.json, id).toMatchObject({ schemaVersion: 1, eventId: id, from: 'org', to: 'acme' });
      if (Date.parse(o.json['createdAt'] as string) > rotatedAt) {
        createdAfterRotation++;
        expect(o.keyids, id).not.toContain(oldKey);
        if (o.signers.includes(rotatedKey)) withRotated++;
      }
      digests.set(id, sha256(o.body));
    }
    expect(createdAfterRotation).toBeGreaterThanOrEqual(PER_PHASE);
    expect(withRotated, 'envelopes signed with the rotated key').toBeGreaterThan(0);
    figures['afterRotation'] = { created: createdAfterRotation, signedWithRotatedKey: withRotated };

    // acme's stream: byte for byte.
    const acmeEvents = new Map((await readStream(acmeUrl, EVENTS, ACME_AUTH)).messages.map((m) => [m.msgId!, m]));
    expect(acmeEvents.size).toBe(3 * PER_PHASE);
    for (const m of orgEvents)
      expect(Buffer.from(acmeEvents.get(m.msgId!)!.data).equals(Buffer.from(m.data)), m.msgId).toBe(true);

    // The agent: each event once; a second push only for one answered within 2 s before the SIGKILL.
    await waitFor(
      async () => new Set(agent.pushes.map((p) => p.eventId)).size >= sent.size,
      'every event pushed',
      30_000,
    );
    const pushes = new Map<string, number[]>();
    for (const p of agent.pushes) pushes.set(p.eventId, [...(pushes.get(p.eventId) ?? []), p.answeredAtMs]);
    const excused: string[] = [];
    for (const id of sent.keys()) {
      const at = pushes.get(id) ?? [];
      if (at.length === 2 && at[0]! <= killAt && at[0]! >= killAt - 2_000) excused.push(id);
      else expect(at.length, `${id} pushes`).toBe(1);
    }
    expect(pushes.size).toBe(sent.size);
    figures['pushes'] = { total: agent.pushes.length, excusedRepeats: excused.length };

    // Receipts (acme's stream, and sourced back into ours): one accepted each, acme's key, the event's digest.
    for (const [url, auth, where] of [
      [acmeUrl, ACME_AUTH, 'acme'],
      [hubUrl, ORG_AUTH, 'org'],
    ] as const) {
      const receipts = (await readStream(url, ACKS, auth)).messages.map((m) => ({
        msgId: m.msgId!,
        ...openEnvelope(m.data),
      }));
      expect(receipts.length, where).toBe(3 * PER_PHASE);
      const byEvent = new Map(receipts.map((r) => [r.json['eventId'] as string, r]));
      expect(byEvent.size, where).toBe(3 * PER_PHASE);
      for (const [id, digest] of digests) {
        const r = byEvent.get(id)!;
        expect(r.payloadType, id).toBe(ACK_TYPE);
        expect(r.signers, id).toEqual([acmeKey]);
        expect(r.json, id).toMatchObject({ msgId: id, digest, status: 'accepted', from: 'acme', to: 'org' });
        expect(r.msgId, id).toBe(`ack-${id}-${digest.slice(0, 16)}`);
      }
    }

    // Status on every member and the audit by replay.
    for (const s of org) {
      const st = await status(s);
      expect(st.code, s.url).toBe(0);
      expect(st.acme, s.url).toMatchObject({ sent: 300, acked: 300, unacked: 0, rejected: 0 });
    }
    const verify = async () => {
      const r = await runCliProcess(
        ['federation', 'verify', '--json', ...org[2]!.configArgs()],
        org[2]!.env(),
        org[2]!.dir,
      );
      return { code: r.code, doc: JSON.parse(r.stdout) as Record<string, unknown>, stderr: r.stderr };
    };
    const clean = await verify();
    expect(clean.code, JSON.stringify(clean.doc) + clean.stderr).toBe(0);
    expect(clean.doc).toMatchObject({
      events: 300,
      verified: 300,
      acked: 300,
      gaps: [],
      badEvents: [],
      badAcks: [],
      duplicates: [],
    });
    figures['mainRunMs'] = Date.now() - t0;

    // Forged envelopes straight onto our events subject (as an ORG admin would).
    const publish = async (nc: NatsConnection, subject: string, msgId: string, data: Uint8Array): Promise<void> => {
      const h = natsHeaders();
      h.set('Nats-Msg-Id', msgId);
      for (let attempt = 0; attempt < 10; attempt++) {
        if (!(await nc.jetstream().publish(subject, data, { headers: h })).duplicate) return;
        await sleep(500); // past the 1 s duplicate window
      }
      throw new Error(`${msgId} stayed a duplicate`);
    };
    const signerOf = async (file: string): Promise<DsseSigner> => {
      const k = await loadIdentity(file);
      return new Ed25519Signer(identityPeerId(k), k.raw);
    };
    const [s0old, s1, s2] = await Promise.all(ids.dirs.map((d) => signerOf(join(d, 'net-sync.key'))));
    const forgerDir = tempDir('forger');
    await keygen(join(forgerDir, 'f.key'), forgerDir);
    const forger = await signerOf(join(forgerDir, 'f.key'));
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
          origin: ids.peerIds[1],
          ...over,
        }),
      );
    const sign = async (b: Uint8Array, by: DsseSigner[]) => encodeEnvelope(await signEnvelope(EVENT_TYPE, b, by));
    // A byte copy of an envelope created after the rotation (one with the old key, stored again
    // after its notAfter, is a bad event, not a mere duplicate).
    const first = orgEvents.find((m) => Date.parse(openEnvelope(m.data).json['createdAt'] as string) > rotatedAt)!;
    const equivocated = orgEvents[1]!.msgId!;
    const tampered = JSON.parse(new TextDecoder().decode(await sign(body('F-TAMPERED'), [s1!, s2!]))) as object;
    const pushesBefore = agent.pushes.length;
    await publish(
      hubNc,
      EVENTS,
      'F-UNSIGNED',
      encodeEnvelope({ payloadType: EVENT_TYPE, payload: base64Encode(body('F-UNSIGNED')), signatures: [] }),
    );
    await publish(hubNc, EVENTS, 'F-UNKNOWN', await sign(body('F-UNKNOWN'), [forger]));
    await publish(hubNc, EVENTS, 'F-RETIRED', await sign(body('F-RETIRED'), [s0old!, s1!]));
    await publish(
      hubNc,
      EVENTS,
      'F-TAMPERED',
      new TextEncoder().encode(
        JSON.stringify({ ...tampered, payload: base64Encode(body('F-TAMPERED', { payload: { more: 1 } })) }),
      ),
    );
    await publish(hubNc, EVENTS, 'F-RECIPIENT', await sign(body('F-RECIPIENT', { to: 'beta' }), [s1!, s2!]));
    await publish(hubNc, EVENTS, equivocated, await sign(body(equivocated), [s1!, s2!]));
    await publish(hubNc, EVENTS, 'F-NOTJSON', new TextEncoder().encode('not json'));
    await publish(hubNc, EVENTS, 'F-COPY', first.data);
    const forged: Record<string, string[]> = {
      'F-UNSIGNED': ['below-threshold'],
      'F-UNKNOWN': ['untrusted-key'],
      'F-RETIRED': ['below-threshold', 'retired-key'],
      'F-TAMPERED': ['bad-signature'],
      'F-RECIPIENT': ['wrong-recipient'],
      [equivocated]: ['equivocation'],
      'F-NOTJSON': ['malformed'],
    };
    const rejectedReceipts = async () =>
      (await readStream(acmeUrl, ACKS, ACME_AUTH)).messages
        .map((m) => openEnvelope(m.data))
        .filter((r) => r.json['status'] === 'rejected');
    await waitFor(
      async () => (await rejectedReceipts()).length >= 7,
      'acme receipted the seven forgeries',
      60_000,
      500,
    );
    await sleep(2_000); // room for a wrong eighth receipt or push
    const rejected = await rejectedReceipts();
    expect(rejected.length).toBe(7);
    const reasons: Record<string, string> = {};
    for (const r of rejected) {
      expect(r.signers).toEqual([acmeKey]);
      reasons[r.json['msgId'] as string] = r.json['reason'] as string;
    }
    expect(Object.keys(reasons).sort()).toEqual(Object.keys(forged).sort());
    for (const [id, ok] of Object.entries(forged)) expect(ok, id).toContain(reasons[id]);
    figures['forgedReasons'] = reasons;
    expect(agent.pushes.length, 'no forgery reached the agent').toBe(pushesBefore);

    // Bad receipts straight onto acme's acks subject (as an acme admin would).
    const acmeSigner = await signerOf(join(acmeDir, 'acme.key'));
    const realDigest = digests.get(first.msgId!)!;
    const ack = (over: Record<string, unknown>) =>
      new TextEncoder().encode(
        JSON.stringify({
          schemaVersion: 1,
          eventId: first.msgId,
          msgId: first.msgId,
          digest: realDigest,
          status: 'rejected',
          reason: 'bad-signature',
          from: 'acme',
          to: 'org',
          receivedAt: new Date().toISOString(),
          ...over,
        }),
      );
    const signAck = async (b: Uint8Array, by: DsseSigner) => encodeEnvelope(await signEnvelope(ACK_TYPE, b, [by]));
    await publish(
      acmeNc,
      ACKS,
      'BAD-UNSIGNED',
      encodeEnvelope({ payloadType: ACK_TYPE, payload: base64Encode(ack({})), signatures: [] }),
    );
    await publish(acmeNc, ACKS, 'BAD-UNKNOWN-KEY', await signAck(ack({}), forger));
    await publish(acmeNc, ACKS, 'BAD-DIGEST', await signAck(ack({ digest: '0'.repeat(64) }), acmeSigner));
    await publish(acmeNc, ACKS, 'BAD-EVENT', await signAck(ack({ eventId: 'NO-SUCH', msgId: 'NO-SUCH' }), acmeSigner));
    await publish(acmeNc, ACKS, 'BAD-JSON', new TextEncoder().encode('{not json'));
    const badAcks = ['BAD-UNSIGNED', 'BAD-UNKNOWN-KEY', 'BAD-DIGEST', 'BAD-EVENT', 'BAD-JSON'];
    await waitFor(
      async () =>
        (await readStream(hubUrl, ACKS, ORG_AUTH)).messages.filter((m) => m.msgId?.startsWith('BAD-')).length === 5,
      'bad receipts sourced to org',
      30_000,
      500,
    );
    await waitFor(
      async () => (await org[1]!.get('/v1/federation/partners')).json.partners[0].acksRefused >= 5,
      'bad receipts refused',
      30_000,
      500,
    ).catch(() => undefined);
    for (const s of org) {
      const st = await status(s);
      expect(st.code, s.url).toBe(0);
      expect(st.acme, s.url).toMatchObject({ sent: 300, acked: 300, unacked: 0, rejected: 0 });
      expect((await s.get(`/v1/federation/events/${first.msgId}`)).json, s.url).toMatchObject({
        state: 'acked',
        ack: { status: 'accepted' },
      });
    }
    const audit = await verify();
    figures['verifyAfterForgeries'] = audit.doc;
    expect(audit.code).toBe(1);
    expect(audit.doc['gaps']).toEqual([]);
    const bad = Object.fromEntries(
      (audit.doc['badEvents'] as Array<{ msgId: string; reason: string }>).map((b) => [b.msgId, b.reason]),
    );
    expect(Object.keys(bad).sort()).toEqual(Object.keys(forged).sort());
    for (const [id, reason] of Object.entries(bad)) expect(forged[id], id).toContain(reason);
    expect(audit.doc['duplicates']).toEqual([
      expect.objectContaining({ eventId: first.msgId, msgIds: [first.msgId, 'F-COPY'] }),
    ]);
    expect((audit.doc['badAcks'] as Array<{ msgId: string }>).map((b) => b.msgId).sort()).toEqual([...badAcks].sort());

    // acme stopped, 10 events: after ackTimeoutMs exactly those 10 are gaps (exit 1); acme back: exit 0.
    expect(await acme.stop()).toBe(0);
    const late: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await org[1]!.post('/v1/federation/events', { partner: 'acme', type: 'order.late', payload: { i } });
      expect(r.status).toBe(202);
      late.push(r.json.eventId as string);
    }
    for (const id of late)
      await waitFor(
        async () => (await org[1]!.get(`/v1/federation/events/${id}`)).json.state === 'committed',
        `${id} committed`,
        60_000,
        200,
      );
    await sleep(ACK_TIMEOUT_MS + 500);
    const gaps = await status(org[1]!);
    expect(gaps.code).toBe(1);
    expect(gaps.doc.gaps.map((g) => g.eventId).sort()).toEqual([...late].sort());
    await acme.start();
    await ackedEverywhere(310, 'late events', 120_000);
    for (const s of org) expect((await status(s)).code, s.url).toBe(0);

    figures['totalMs'] = Date.now() - t0;
    figures['loadAfter'] = readFileSync('/proc/loadavg', 'utf8').trim();
    mkdirSync(join(ROOT, 'test/chaos/results'), { recursive: true });
    writeFileSync(join(ROOT, 'test/chaos/results/federation-acceptance.json'), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(JSON.stringify(figures, null, 2));
  });
});
