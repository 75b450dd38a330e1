import { execFileSync } from 'node:child_process';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, nkeys } from 'nats';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ConnectionState } from '../../../src/core/ports.js';
import { freePort } from '../../../src/devkit/nats-server-process.js';
import { createNatsMetrics } from '../../../src/nats/metrics.js';
import { NatsSchema } from '../../../src/config/schema.js';
import { NatsConnector } from '../../../src/nats/nats-connector.js';
import { resetSocket } from '../../../src/nats/socket-fence.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { natsConfig, useConnector, waitFor } from './helpers.js';

describe('NatsConnector', () => {
  it('authenticates with user/password and reaches JetStream', async () => {
    const nats = await useNatsServer({ config: 'authorization { users: [ { user: "svc", password: "s3cret" } ] }' });
    const connector = await useConnector([nats.url], { user: 'svc', pass: 's3cret' });
    expect(connector.state).toBe('connected');
    const info = await connector.manager!.getAccountInfo();
    expect(info.limits).toBeDefined();
  });

  it('authenticates with a token', async () => {
    const nats = await useNatsServer({ config: 'authorization { token: "t0ken" }' });
    const connector = await useConnector([nats.url], { token: 't0ken' });
    expect(connector.state).toBe('connected');
  });

  it('authenticates with an NKey seed file', async () => {
    const kp = nkeys.createUser();
    const dir = await mkdtemp(join(tmpdir(), 'net-sync-nkey-'));
    const seedFile = join(dir, 'user.nk');
    await writeFile(seedFile, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600 });
    const nats = await useNatsServer({ config: `authorization { users: [ { nkey: ${kp.getPublicKey()} } ] }` });
    const connector = await useConnector([nats.url], { nkeySeedFile: seedFile });
    expect(connector.state).toBe('connected');
  });

  it('connects over TLS with a CA file (server requires TLS)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'net-sync-tls-'));
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
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    );
    await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
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
    const nats = await useNatsServer({
      config: `tls { cert_file: "${join(dir, 'server.pem')}", key_file: "${join(dir, 'server.key')}" }`,
    });
    const connector = await useConnector([nats.url], { tls: { caFile: join(dir, 'ca.pem') } });
    expect(connector.state).toBe('connected');
    expect(connector.connection!.info?.tls_required).toBe(true);
    // The fence resets a TLS connection through the TCP socket under it.
    const raw = await connect({ servers: [nats.url], tls: { caFile: join(dir, 'ca.pem') }, reconnect: false });
    expect(resetSocket(raw)).toBe(true);
    await raw.closed();
    // Without our CA the handshake fails, and start() still returns.
    const untrusted = await useConnector([nats.url]);
    expect(untrusted.state).toBe('connecting');
  });

  it('keeps trying with wrong credentials without blocking start()', async () => {
    const nats = await useNatsServer({ config: 'authorization { token: "right" }' });
    const connector = await useConnector([nats.url], { token: 'wrong' });
    expect(connector.state).toBe('connecting');
    expect(String(connector.lastError)).toMatch(/AUTHORIZATION/i);
  });

  it('rejects an unreadable seed file as CONFIG_INVALID', async () => {
    const connector = new NatsConnector({
      config: natsConfig(['nats://127.0.0.1:1'], { nkeySeedFile: '/nonexistent/seed' }),
    });
    await expect(connector.start()).rejects.toMatchObject({ code: 'CONFIG_INVALID', field: 'nats.nkeySeedFile' });
  });

  it('starts while NATS is down and connects once it comes up', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const connector = await useConnector([`nats://127.0.0.1:${port}`]);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(connector.state).toBe('connecting');
    expect(connector.jetstream).toBeUndefined();
    await useNatsServer({ port });
    await connector.waitConnected(10_000);
    expect(connector.state).toBe('connected');
  });

  it('reports disconnected/connected across a server restart on the same port', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    const seen: ConnectionState[] = [];
    connector.onState((s) => seen.push(s));
    await nats.stop();
    await waitFor('disconnected', () => connector.state === 'disconnected');
    await nats.restart();
    await connector.waitConnected(10_000);
    expect(seen).toEqual(['disconnected', 'connected']);
    await connector.stop();
    await connector.stop();
    expect(connector.state).toBe('closed');
    expect(seen.at(-1)).toBe('closed');
  });

  // Issue 15: replay starts once we are connected again, so the default wait is the head start
  // of the first replayed commit after an outage (goal: within 1 s of NATS returning).
  it('with the default settings, dials every 0.25–0.5 s while down and is connected soon after the return', async () => {
    const nats = await useNatsServer();
    const failures: number[] = [];
    const logger = pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          if (line.includes('nats connect failed')) failures.push(performance.now());
        },
      },
    );
    const connector = new NatsConnector({ config: NatsSchema.parse({ servers: [nats.url] }), logger });
    await connector.start();
    registerCleanup(() => connector.stop());
    expect(connector.state).toBe('connected');
    nats.kill('SIGKILL');
    await nats.waitExit();
    await waitFor('disconnected', () => connector.state === 'disconnected');
    const down = performance.now();
    await new Promise((r) => setTimeout(r, 2_000));
    // nats.js' 2 s (+ 1 s jitter) would dial at most once in these 2 s.
    expect(failures.filter((t) => t >= down).length).toBeGreaterThanOrEqual(3);
    await nats.restart();
    const back = performance.now();
    await connector.waitConnected(10_000);
    expect(performance.now() - back).toBeLessThan(1_500);
  });

  it('reports a frozen server (SIGSTOP: no RST, no FIN) as disconnected within 5 s, connected once it answers', async () => {
    const nats = await useNatsServer();
    // Client PINGs at the 10 s default would take ~20-30 s; the probe must see it first.
    const connector = new NatsConnector({ config: natsConfig([nats.url]), connectTimeoutMs: 1_000 });
    await connector.start();
    registerCleanup(() => connector.stop());
    await connector.waitConnected(5_000);
    const seen: ConnectionState[] = [];
    connector.onState((s) => seen.push(s));
    nats.kill('SIGSTOP');
    registerCleanup(async () => nats.kill('SIGCONT'));
    const frozenAt = Date.now();
    await waitFor('disconnected after SIGSTOP', () => connector.state === 'disconnected', 6_000);
    expect(Date.now() - frozenAt).toBeLessThanOrEqual(5_000);
    nats.kill('SIGCONT');
    await connector.waitConnected(5_000);
    expect(seen).toEqual(['disconnected', 'connected']);
  });

  it('fence() resets the socket, counts it, and replaces the connection with a new one', async () => {
    const nats = await useNatsServer();
    const registry = new Registry();
    const connector = new NatsConnector({
      config: natsConfig([nats.url]),
      connectTimeoutMs: 1_000,
      metrics: createNatsMetrics(registry),
    });
    await connector.start();
    registerCleanup(() => connector.stop());
    const first = connector.connection!;
    const seen: ConnectionState[] = [];
    connector.onState((s) => seen.push(s));
    connector.fence('test');
    connector.fence('test'); // once per connection
    await first.closed();
    await connector.waitConnected(5_000);
    expect(connector.connection).not.toBe(first);
    expect(seen).toEqual(['disconnected', 'connected']);
    const text = await registry.metrics();
    expect(text).toMatch(/net_sync_nats_fences_total\{reason="test"\} 1/);
    expect(text).toMatch(/net_sync_nats_reconnects_total 1/);
  });

  it('waitConnected times out with NATS_TIMEOUT while NATS is away', async () => {
    const connector = await useConnector([`nats://127.0.0.1:${await freePort()}`]);
    await expect(connector.waitConnected(200)).rejects.toMatchObject({ code: 'NATS_TIMEOUT' });
  });

  it('stop() ends the first-connect loop', async () => {
    const port = await freePort();
    const connector = new NatsConnector({ config: natsConfig([`nats://127.0.0.1:${port}`]) });
    await connector.start();
    await connector.stop();
    expect(connector.state).toBe('closed');
    await expect(connector.waitConnected(100)).rejects.toMatchObject({ code: 'NATS_DISCONNECTED' });
  });
});
