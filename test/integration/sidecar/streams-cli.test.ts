// Acceptance, streams (docs/contracts.md): `streams apply` twice changes nothing the second time,
// and `streams verify` catches a changed max-age (exit 1). Also: SIGTERM drains and exits
// within a bounded time.
import { connect } from 'nats';
import { describe, expect, it } from 'vitest';
import { useNatsServer, registerCleanup } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { waitFor } from '../../support/wait-for.js';
import { tempDir } from '../../support/temp-dir.js';

describe('streams as code through the CLI', () => {
  it('applies idempotently and detects drift', async () => {
    const nats = await useNatsServer();
    const dir = tempDir('streams');
    const env = { PATH: process.env['PATH'] ?? '', HOME: dir, NET_SYNC_NATS_SERVERS: nats.url };

    const first = await runCliProcess(['streams', 'apply', '--json'], env, dir);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).streams.map((s: { outcome: string }) => s.outcome)).toEqual([
      'applied',
      'applied',
      'applied',
      'applied',
      'applied',
    ]);

    const dry = await runCliProcess(['streams', 'apply', '--dry-run', '--json'], env, dir);
    expect(JSON.parse(dry.stdout).streams.every((s: { action: string }) => s.action === 'none')).toBe(true);
    const second = await runCliProcess(['streams', 'apply', '--json'], env, dir);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).streams.map((s: { outcome: string }) => s.outcome)).toEqual([
      'unchanged',
      'unchanged',
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    expect((await runCliProcess(['streams', 'verify'], env, dir)).code).toBe(0);

    const nc = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info('COMMANDS');
    await jsm.streams.update('COMMANDS', { ...info.config, max_age: 3_600 * 1e9 });
    await nc.close();

    const verify = await runCliProcess(['streams', 'verify', '--json'], env, dir);
    expect(verify.code).toBe(1);
    const commands = JSON.parse(verify.stdout).streams.find((s: { stream: string }) => s.stream === 'COMMANDS');
    expect(commands.action).toBe('update');
    expect(commands.drift).toEqual([{ field: 'maxAge', want: 30 * 86_400_000, have: 3_600_000 }]);
    const human = await runCliProcess(['streams', 'verify'], env, dir);
    expect(human.stdout).toContain('maxAge');
  });
});

describe('shutdown', () => {
  it('drains and exits 0 within 15 s of SIGTERM', async () => {
    const nats = await useNatsServer();
    const sidecar = new SidecarProcess({ natsUrl: nats.url });
    await sidecar.start();
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
    await waitFor(async () => (await sidecar.get('/readyz')).status === 200, 'readyz');
    const posts = Array.from({ length: 200 }, (_, i) =>
      sidecar.post('/v1/intents', { subject: 'root.solar.command.sentiment.set', payload: { i } }),
    );
    await Promise.all(posts);
    const started = Date.now();
    const code = await sidecar.kill('SIGTERM', 15_000);
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
