// Acceptance, security (docs/operations.md): a real nats-server with TLS (a CA this test generates) and
// the least-privilege users of examples/nats-least-privilege.conf; real sidecar processes.
// The bridge commits and reconciles under its permissions; a publish outside them becomes a
// dead row with the reason, once (no retry loop); the API wants its bearer token; the key and
// the database are 0600; the logs of the whole run hold neither secrets nor payloads.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { IntentView } from '../../../src/api/api-server.js';
import type { StatusDoc } from '../../../src/api/status-page.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { ROOT, runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import type { Accepted } from '../../support/stream-contents.js';
import { tempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const BRIDGE_PASSWORD = `bridge-pw-${process.pid}-Zq81`;
const SCOPED_PASSWORD = `scoped-pw-${process.pid}-Kx27`;
const API_TOKEN = `api-token-${process.pid}-Wm93`;
const MARKER = `payload-marker-${process.pid}-Jf46`;
const SECRETS = [BRIDGE_PASSWORD, SCOPED_PASSWORD, API_TOKEN];

/** A CA and a server certificate for 127.0.0.1/localhost, made with openssl in `dir`. */
function makeCa(dir: string): { ca: string; cert: string; key: string } {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=net-sync test CA',
  );
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '1',
    '-extfile',
    'ext.cnf',
  );
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

const auth = { authorization: `Bearer ${API_TOKEN}` };
let natsUrl: string;
let caFile: string;
let bridge: SidecarProcess;
const started: SidecarProcess[] = [];

async function api<T = unknown>(s: SidecarProcess, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const init: RequestInit =
    body === undefined
      ? { headers: auth }
      : { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const res = await fetch(`${s.url}${path}`, init);
  return { status: res.status, json: (await res.json()) as T };
}

function sidecar(user: string, pass: string): SidecarProcess {
  const s = new SidecarProcess({
    natsUrl,
    env: {
      NET_SYNC_NATS_USER: user,
      NET_SYNC_NATS_PASS: pass,
      NET_SYNC_NATS_TLS_CA_FILE: caFile,
      NET_SYNC_API_TOKEN: API_TOKEN,
      NET_SYNC_LOG_LEVEL: 'info',
    },
  });
  registerCleanup(async () => void (await s.kill('SIGKILL')));
  started.push(s);
  return s;
}

beforeAll(async () => {
  const tls = makeCa(tempDir('ca'));
  caFile = tls.ca;
  // The example reads passwords from the server's environment; the launcher passes ours on.
  Object.assign(process.env, {
    NATS_ADMIN_PASSWORD: `admin-${process.pid}`,
    NATS_BRIDGE_PASSWORD: BRIDGE_PASSWORD,
    NATS_BRIDGE_SENTIMENT_PASSWORD: SCOPED_PASSWORD,
  });
  const example = readFileSync(join(ROOT, 'examples/nats-least-privilege.conf'), 'utf8');
  const nats = await useNatsServer({ config: `tls { cert_file: "${tls.cert}", key_file: "${tls.key}" }\n${example}` });
  natsUrl = `tls://127.0.0.1:${nats.port}`;
  bridge = sidecar('bridge', BRIDGE_PASSWORD);
  await bridge.start();
  await waitFor(
    async () => (await api(bridge, '/readyz')).status === 200,
    'bridge ready over TLS with least privilege',
    20_000,
    50,
  );
});

describe('least privilege over TLS', () => {
  it('commits intents, creating the missing streams under the bridge user', async () => {
    const r = await api<Accepted>(bridge, '/v1/intents', {
      subject: 'root.solar.command.sentiment.set',
      payload: { marker: MARKER },
    });
    expect(r.status).toBe(202);
    await waitFor(
      async () => (await api<IntentView>(bridge, `/v1/intents/${r.json.correlationId}`)).json.state === 'committed',
      `${r.json.correlationId} committed`,
    );
    const status = (await api<StatusDoc>(bridge, '/v1/status')).json;
    expect(status.nats).toMatchObject({ state: 'connected', streamsReady: true, servers: [natsUrl] });
    expect(status.nats.jetstream.streams.map((s: { name: string }) => s.name)).toContain('COMMANDS');
  });

  it('turns a publish outside the permissions into one dead row with the reason, not a retry loop', async () => {
    const scoped = sidecar('bridge-sentiment', SCOPED_PASSWORD);
    await scoped.start();
    await waitFor(async () => (await api(scoped, '/readyz')).status === 200, 'scoped sidecar ready');
    const denied = await api<Accepted>(scoped, '/v1/intents', {
      subject: 'root.solar.command.cohort.assign',
      payload: { marker: MARKER },
    });
    const allowed = await api<Accepted>(scoped, '/v1/intents', {
      subject: 'root.solar.command.sentiment.set',
      payload: { marker: MARKER },
    });
    await waitFor(
      async () =>
        (await api<IntentView>(scoped, `/v1/intents/${allowed.json.correlationId}`)).json.state === 'committed',
      `${allowed.json.correlationId} committed`,
    );
    await waitFor(
      async () => (await api<IntentView>(scoped, `/v1/intents/${denied.json.correlationId}`)).json.state === 'dead',
      `${denied.json.correlationId} dead`,
    );
    const view = (await api<IntentView>(scoped, `/v1/intents/${denied.json.correlationId}`)).json;
    expect(view.reason).toMatch(/^NATS_PERMISSION_DENIED: .*Permissions Violation for Publish/);
    // The committer moves on (a later intent commits) and the dead row is never tried again.
    const later = await api<Accepted>(scoped, '/v1/intents', {
      subject: 'root.solar.command.sentiment.set',
      payload: { n: 2 },
    });
    await waitFor(
      async () => (await api<IntentView>(scoped, `/v1/intents/${later.json.correlationId}`)).json.state === 'committed',
      `${later.json.correlationId} committed`,
    );
    expect((await api<IntentView>(scoped, `/v1/intents/${denied.json.correlationId}`)).json).toMatchObject({
      state: 'dead',
      attempts: 1,
    });
    const metrics = await (await fetch(`${scoped.url}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/net_sync_commit_rows_total\{result="dead"\} 1\n/);
    expect(metrics).not.toMatch(/net_sync_commit_rows_total\{result="retry"\}/);
    expect(metrics).toMatch(/net_sync_outbox_rows\{state="dead",kind="command"\} 1\n/);
    // Its dead-letter notice is published under the same scoped credentials.
    await waitFor(
      async () =>
        (await api<IntentView>(scoped, `/v1/intents/dl-${denied.json.correlationId}`)).json.state === 'committed',
      'dead-letter notice committed',
    );
    await scoped.kill('SIGTERM');
    // Reported by reconcile (exit 1: not aligned), under the same scoped credentials.
    const rec = await runCliProcess(['reconcile', '--json'], scoped.env(), scoped.dir);
    expect(rec.code, rec.stderr).toBe(1);
    expect(JSON.parse(rec.stdout).dead).toEqual([
      expect.objectContaining({ correlationId: denied.json.correlationId }),
    ]);
    expect(rec.stdout + rec.stderr).not.toContain(SCOPED_PASSWORD);
  });

  it('reconcile --verify works under the bridge user (stream read-back through its own consumer)', async () => {
    await bridge.kill('SIGTERM');
    const rec = await runCliProcess(['reconcile', '--since', '1h', '--verify', '--json'], bridge.env(), bridge.dir);
    expect(rec.code, rec.stderr).toBe(0);
    // The intent, plus the peer-health and lag reports of every 10 s the bridge ran: each verified.
    const report = JSON.parse(rec.stdout) as { examined: number; verified: number };
    expect(report).toMatchObject({ aligned: true, lost: [] });
    expect(report.verified).toBeGreaterThanOrEqual(1);
    expect(report.verified).toBe(report.examined);
    await bridge.start();
    await waitFor(async () => (await api(bridge, '/readyz')).status === 200, 'bridge ready again');
  });
});

describe('API and files', () => {
  it('binds to loopback by default and wants the bearer token on every route but /healthz', async () => {
    expect(loadConfig({ env: {} }).api.listen).toBe('127.0.0.1:7654');
    for (const path of ['/v1/status', '/metrics', '/readyz', '/v1/intents/x']) {
      const res = await fetch(`${bridge.url}${path}`);
      expect(res.status, path).toBe(401);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({
        code: 'UNAUTHORIZED',
        field: 'authorization',
      });
    }
    expect((await fetch(`${bridge.url}/v1/status`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${bridge.url}/healthz`)).status).toBe(200);
    const page = await fetch(`${bridge.url}/`);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('401: unauthorized');
    expect((await fetch(`${bridge.url}/?token=${API_TOKEN}`)).status).toBe(200);
  });

  it('keeps the identity key and the database files at mode 0600, the payload directory at 0700', () => {
    const files = readdirSync(bridge.dir).filter((f) => f === 'net-sync.key' || f.startsWith('net-sync.db'));
    expect(files).toEqual(expect.arrayContaining(['net-sync.key', 'net-sync.db']));
    for (const f of files) {
      const st = statSync(join(bridge.dir, f));
      // Payloads over inlineMaxBytes live in `<buffer.path>.payloads/` (docs/payloads.md).
      expect((st.mode & 0o777).toString(8), f).toBe(st.isDirectory() ? '700' : '600');
    }
  });

  it('logs neither secrets nor payloads over the whole run (info level)', async () => {
    await bridge.kill('SIGTERM');
    // Both sidecars: the bridge and the scoped one whose refused row was logged at error level.
    const log = started.map((s) => readFileSync(s.logPath, 'utf8')).join('\n');
    expect(log).toContain('row refused permanently');
    expect(log).toContain('sidecar started');
    expect(log).toContain('sidecar stopped');
    for (const secret of SECRETS) expect(log).not.toContain(secret);
    expect(log).not.toContain(MARKER);
  });
});
