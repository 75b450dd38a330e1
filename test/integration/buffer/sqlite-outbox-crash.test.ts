import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteOutbox } from '../../../src/buffer/index.js';

const ROWS_PER_BATCH = 20;
const KILL_AFTER_BATCHES = 300;
const fixture = fileURLToPath(new URL('./fixtures/crash-appender.ts', import.meta.url));
// vite-node (shipped with vitest) runs the TypeScript fixture in one plain node process,
// so the PID we SIGKILL is the one writing the file.
const viteNode = join(createRequire(import.meta.url).resolve('vite-node/package.json'), '..', 'vite-node.mjs');

describe('SqliteOutbox under SIGKILL', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('keeps every row whose append had resolved when the process was killed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'net-sync-crash-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'outbox.db');
    const child = spawn(process.execPath, [viteNode, fixture, path, String(ROWS_PER_BATCH), '8'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );

    const acked: number[] = [];
    for await (const line of createInterface({ input: child.stdout })) {
      const m = /^ok (\d+)$/.exec(line);
      if (m === null) continue;
      acked.push(Number(m[1]));
      if (acked.length === KILL_AFTER_BATCHES) process.kill(child.pid!, 'SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER_BATCHES);

    const outbox = SqliteOutbox.open({ path });
    cleanups.push(() => outbox.close());
    for (const b of acked) {
      for (let j = 0; j < ROWS_PER_BATCH; j++) {
        const id = `b${b}-r${j}`;
        expect(outbox.get(id)?.state, `row ${id}`).toBe('pending-commit');
      }
    }
    // Batches are all-or-nothing: a killed transaction leaves no partial batch behind.
    const stored = outbox.counts()['pending-commit'];
    expect(stored % ROWS_PER_BATCH).toBe(0);
    expect(stored).toBeGreaterThanOrEqual(acked.length * ROWS_PER_BATCH);
  });
});
