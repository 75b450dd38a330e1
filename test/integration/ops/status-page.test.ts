// Acceptance, tracing, status and status page (docs/operations.md): two real sidecar processes
// on a loopback libp2p mesh (quorum 2) and a real nats-server. A traceparent sent over HTTP
// reaches the NATS header through the gossip envelope; `net-sync status` judges lag against the
// SLAs of seed 000 (exit 1 on a breach); the status page, driven in Debian's headless Chromium, shows
// NATS connected, the peer, and the intent with its state and endorsers.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { IntentView } from '../../../src/api/api-server.js';
import type { StatusDoc } from '../../../src/api/status-page.js';
import type { NatsServerProcess } from '../../../src/devkit/nats-server-process.js';
import { meshIdentities } from '../../support/mesh-identities.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { tempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = `page-token-${process.pid}`;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const SUBJECT = 'root.solar.command.sentiment.set';

let nats: NatsServerProcess;
let a: SidecarProcess;
let b: SidecarProcess;
const peerIds: string[] = [];
const auth = { authorization: `Bearer ${TOKEN}` };

async function get<T>(s: SidecarProcess, path: string): Promise<T> {
  return (await fetch(`${s.url}${path}`, { headers: auth })).json() as Promise<T>;
}

async function status(s: SidecarProcess): Promise<{ code: number | null; doc: StatusDoc }> {
  const r = await runCliProcess(['status', '--json', '--url', s.url], { ...s.env(), NET_SYNC_API_TOKEN: TOKEN }, s.dir);
  return { code: r.code, doc: JSON.parse(r.stdout) };
}

beforeAll(async () => {
  nats = await useNatsServer();
  const ids = await meshIdentities(2, 'page');
  const dirs = ids.dirs;
  peerIds.push(...ids.peerIds);
  [a, b] = dirs.map(
    (dir, i) =>
      new SidecarProcess({
        natsUrl: nats.url,
        dir,
        env: {
          NET_SYNC_API_TOKEN: TOKEN,
          NET_SYNC_API_STATUS_SAMPLE_MS: '1000',
          ...ids.meshEnv(i),
          NET_SYNC_CONSENSUS_QUORUM: '2',
          NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
        },
      }),
  ) as [SidecarProcess, SidecarProcess];
  for (const s of [a, b]) registerCleanup(async () => void (await s.kill('SIGKILL')));
  await Promise.all([a.start(), b.start()]);
  for (const s of [a, b]) {
    await waitFor(
      async () => {
        const st = await get<StatusDoc>(s, '/v1/status');
        return st.nats.streamsReady === true && st.peers.connected.length === 1 && st.peers.meshPeers === 1;
      },
      `sidecar :${s.port} ready with its mesh peer`,
      30_000,
      50,
    );
  }
});

describe('operating a two-sidecar mesh', () => {
  let committedId = '';

  it('carries the traceparent from the HTTP request through gossip into the NATS headers', async () => {
    const res = await fetch(`${a.url}/v1/intents`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', traceparent: TRACEPARENT },
      body: JSON.stringify({ subject: SUBJECT, payload: { level: 3 } }),
    });
    expect(res.status).toBe(202);
    committedId = ((await res.json()) as { correlationId: string }).correlationId;
    await waitFor(
      async () => (await get<IntentView>(a, `/v1/intents/${committedId}`)).state === 'committed',
      `${committedId} committed`,
    );
    const msg = (await readStream(nats.url)).messages.find((m) => m.msgId === committedId);
    expect(msg, `${committedId} in the stream`).toBeDefined();
    const [, traceId, spanId] = msg!.headers['traceparent']!.split('-');
    expect(traceId).toBe(TRACE_ID);
    expect(spanId).not.toBe('00f067aa0ba902b7');
    expect(msg!.headers['Net-Sync-Endorsers']?.split(',').sort()).toEqual([...peerIds].sort());
  });

  it('`net-sync status --json` reports peers, NATS, JetStream, outbox and lag within the SLAs (exit 0)', async () => {
    const { code, doc } = await status(a);
    expect(code).toBe(0);
    expect(doc).toMatchObject({
      ok: true,
      sla: { ok: true, breaches: [] },
      peers: { enabled: true, connected: [peerIds[1]], meshPeers: 1, quorum: 2 },
    });
    expect(doc.nats).toMatchObject({ state: 'connected', streamsReady: true });
    expect(doc.nats.jetstream.streams).toContainEqual(
      expect.objectContaining({ name: 'COMMANDS', messages: 1, lastSeq: 1 }),
    );
    expect(doc.outbox.command.committed).toBe(1);
    expect(doc.lag.command).toMatchObject({ slaMs: 500, ok: true, pending: 0, oldestPendingAgeMs: 0 });
    // Recent commits count this node's own PubAcks: the committer is whichever endorser ranked
    // first for this intent, so the one commit shows on exactly one of the two nodes.
    const other = await status(b);
    expect(doc.lag.command.recent.commits + other.doc.lag.command.recent.commits).toBe(1);
    expect(doc.lag.telemetry.slaMs).toBe(2_000);
    const metrics = await (await fetch(`${a.url}/metrics`, { headers: auth })).text();
    // Publish figures live on the node that published (the first-ranked endorser).
    const committer = doc.lag.command.recent.commits === 1 ? a : b;
    const committerMetrics = await (await fetch(`${committer.url}/metrics`, { headers: auth })).text();
    for (const name of [
      'net_sync_jetstream_publish_duration_seconds_bucket',
      'net_sync_commit_latency_seconds_count{kind="command"}',
    ]) {
      expect(committerMetrics, name).toContain(name);
    }
    for (const name of [
      'net_sync_outbox_backlog_rows{kind="command"} 0',
      'net_sync_commit_lag_seconds{kind="command"} 0',
      'net_sync_outbox_rows{state="committed",kind="command"}',
      'net_sync_outbox_oldest_pending_age_seconds',
      'net_sync_gossip_messages_total{direction="in",kind="intent.endorse"}',
      'net_sync_gossip_rejected_total{reason="not-in-cohort"} 0',
      'net_sync_mesh_peers 1',
      'net_sync_mesh_topic_mesh_peers 1',
      'net_sync_endorsement_latency_seconds_count',
      'net_sync_telemetry_reduction_factor',
    ]) {
      expect(metrics, name).toContain(name);
    }
  });

  it('serves a status page that headless Chromium renders: NATS, peer, the intent with its endorsers', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} (apt-get install chromium)`).toBe(true);
    // Two samples at least, so the charts draw lines.
    await waitFor(
      async () => (await fetch(`${a.url}/?token=${TOKEN}`).then((r) => r.text())).includes('<polyline'),
      'a charted sample',
      10_000,
      200,
    );
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    registerCleanup(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const denied = await page.goto(`${a.url}/`);
    expect(denied?.status()).toBe(401);
    expect(await page.textContent('h1')).toContain('401');

    const ok = await page.goto(`${a.url}/?token=${TOKEN}`);
    expect(ok?.status()).toBe(200);
    expect(await page.textContent('#nats-state')).toMatch(/NATS\s+connected\s+streams\s+ready/);
    expect(await page.textContent('#peers')).toContain(peerIds[1]);
    const row = page.locator(`tr[data-correlation-id="${committedId}"]`);
    expect(await row.locator('td.state').textContent()).toBe('committed');
    expect(
      await row.locator('code[title]').evaluateAll((els) => els.map((e) => e.getAttribute('title')).sort()),
    ).toEqual([...peerIds].sort());
    expect(await page.locator('svg polyline').count()).toBe(2);
    expect(await page.textContent('#sla')).toContain('within SLA');
    const shot = join(tempDir('shot'), 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    console.log(`status page screenshot: ${shot}`);
  });

  it('`net-sync status` exits 1 when commit lag breaks the 500 ms command SLA (NATS away)', async () => {
    await nats.stop();
    const r = await fetch(`${a.url}/v1/intents`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: SUBJECT, payload: { level: 4 } }),
    });
    const id = ((await r.json()) as { correlationId: string }).correlationId;
    let last: { code: number | null; doc: StatusDoc | null } = { code: null, doc: null };
    await waitFor(
      async () => {
        last = await status(a);
        return last.code === 1 && last.doc!.lag.command.oldestPendingAgeMs >= 500;
      },
      `status to report ${id} past the command SLA`,
      15_000,
      200,
    );
    expect(last.doc!.ok).toBe(false);
    expect(last.doc!.sla.breaches.join('\n')).toMatch(
      /NATS streams not ready|oldest pending command row is \d+ ms old \(SLA < 500 ms\)/,
    );
    expect(last.doc!.lag.command.ok).toBe(false);
    await nats.restart();
    await waitFor(
      async () => (await get<IntentView>(a, `/v1/intents/${id}`)).state === 'committed',
      `${id} committed after NATS returned`,
      30_000,
      100,
    );
  });
});
