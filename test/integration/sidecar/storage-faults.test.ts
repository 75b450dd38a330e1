// Hardening: a corrupt outbox file is refused at start (exit 2 naming buffer.path), and a
// sidecar whose outbox fills a small disk (a real tmpfs of 1 MiB) still ends on SIGTERM, within
// the documented drain bound, instead of hanging in a stop that cannot write.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { runCliProcess, SidecarProcess } from '../../support/sidecar-process.js';
import { tempDir } from '../../support/temp-dir.js';

// SIGTERM drains for at most 15 s (src/cli/commands/start.ts), then 5 s of exit grace.
const SIGTERM_BOUND_MS = 25_000;

function canMount(): boolean {
  return process.getuid?.() === 0;
}

describe('storage faults', () => {
  it('refuses a corrupt outbox file at start, naming buffer.path (exit 2)', async () => {
    const nats = await useNatsServer();
    const dir = tempDir('corrupt');
    const path = join(dir, 'net-sync.db');
    writeFileSync(path, 'this is not a SQLite database, '.repeat(200));
    const r = await runCliProcess(
      ['start'],
      {
        PATH: process.env['PATH'] ?? '',
        HOME: dir,
        NET_SYNC_NATS_SERVERS: nats.url,
        NET_SYNC_BUFFER_PATH: path,
        NET_SYNC_MESH_KEY_FILE: join(dir, 'net-sync.key'),
        NET_SYNC_API_LISTEN: '127.0.0.1:0',
      },
      dir,
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/buffer\.path/);
    expect(r.stderr).toContain(path);
  });

  it.runIf(canMount())('ends on SIGTERM within the bound when its outbox disk is full', async () => {
    const nats = await useNatsServer();
    const mnt = tempDir('tmpfs');
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    registerCleanup(async () => void execFileSync('umount', ['-l', mnt]));
    const sidecar = new SidecarProcess({ natsUrl: nats.url, env: { NET_SYNC_BUFFER_PATH: join(mnt, 'net-sync.db') } });
    registerCleanup(async () => void (await sidecar.kill('SIGKILL')));
    await sidecar.start();
    // Fill the disk: accepted intents until the outbox cannot write (503), bounded.
    let full = false;
    for (let i = 0; i < 2_000 && !full; i++) {
      const r = await sidecar.post('/v1/intents', {
        subject: 'root.solar.command.fill.up',
        payload: { i, pad: 'x'.repeat(4_000) },
      });
      full = r.status >= 500;
    }
    expect(full, 'the outbox ran out of disk').toBe(true);
    const ready = await sidecar.get('/readyz');
    expect(ready.status, 'not ready while the outbox cannot write').toBe(503);
    expect(String(ready.json.checks.outbox)).toMatch(/full/);
    const t0 = Date.now();
    const code = await sidecar.stop(SIGTERM_BOUND_MS + 5_000);
    const took = Date.now() - t0;
    console.log(`[storage-faults] SIGTERM with a full disk: exit ${code} after ${took} ms`);
    expect(took).toBeLessThan(SIGTERM_BOUND_MS);
  });
});
