import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createBufferMetrics,
  SCHEMA_VERSION,
  SqliteOutbox,
  type SqliteOutboxOptions,
} from '../../../src/buffer/index.js';
import { NetSyncError } from '../../../src/core/errors.js';
import type { NewOutboxRow } from '../../../src/core/intent.js';
import { describeOutboxContract, newRow, type OutboxFixture } from '../../support/outbox-contract.js';

async function tempDir(): Promise<{ dir: string; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'net-sync-outbox-'));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

// One real file per contract run; `fsyncOffLoop` as the sidecar sets it with consensus on.
function onFile(fsyncOffLoop: boolean) {
  return async ({ telemetryCap }: { telemetryCap?: number }): Promise<OutboxFixture> => {
    const tmp = await tempDir();
    const outbox = SqliteOutbox.open({ path: join(tmp.dir, 'outbox.db'), telemetryCap, fsyncOffLoop });
    return {
      outbox,
      dropped: () => outbox.droppedTelemetryTotal,
      dispose: async () => {
        await outbox.close();
        await tmp.dispose();
      },
    };
  };
}

describeOutboxContract('SqliteOutbox', onFile(false));

// Appends fsync'd on the thread pool (consensus on): the same contract.
describeOutboxContract('SqliteOutbox, fsyncOffLoop', onFile(true));

describe('SqliteOutbox on a real file', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const dbPath = async (): Promise<string> => {
    const tmp = await tempDir();
    cleanups.push(tmp.dispose);
    return join(tmp.dir, 'outbox.db');
  };
  const open = (opts: SqliteOutboxOptions): SqliteOutbox => {
    const ob = SqliteOutbox.open(opts);
    cleanups.push(() => ob.close());
    return ob;
  };
  const histogramCount = async (register: Registry, name: string): Promise<{ count: number; sum: number }> => {
    const values = (await register.getSingleMetric(name)!.get()).values as Array<{
      metricName?: string;
      value: number;
    }>;
    const pick = (suffix: string): number => values.find((v) => v.metricName === name + suffix)?.value ?? 0;
    return { count: pick('_count'), sum: pick('_sum') };
  };

  it('creates the file and its WAL side files with mode 0600', async () => {
    const path = await dbPath();
    const ob = open({ path });
    await ob.append([newRow(1)]);
    for (const p of [path, `${path}-wal`, `${path}-shm`]) {
      expect((await stat(p)).mode & 0o777, p).toBe(0o600);
    }
  });

  it('fsyncOffLoop: an append resolves after its WAL fsync, listeners told then, synchronous stays FULL', async () => {
    const path = await dbPath();
    const ob = open({ path, fsyncOffLoop: true });
    const order: string[] = [];
    ob.onAppended((rows) => order.push(`listener ${rows.length}`));
    const [a, b, c] = [newRow(1), newRow(2), newRow(3)];
    const appends = [ob.append([a]), ob.append([b])];
    // Written in this turn's transaction already, not yet answered: the fsync runs on the thread pool.
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    expect(ob.get(a.correlationId)?.state).toBe('pending-commit');
    await Promise.all(appends.map((p) => p.then(() => order.push('resolved'))));
    expect(order).toEqual(['listener 2', 'resolved', 'resolved']);
    expect(ob.database.pragma('synchronous', { simple: true })).toBe(2);
    // Closing waits for the syncs still running; the rows are there on reopen.
    const late = ob.append([c]);
    await ob.close();
    await late;
    const again = open({ path });
    expect(again.get(c.correlationId)).toBeDefined();
  });

  it('runs in WAL with synchronous FULL by default, NORMAL when asked, and a busy timeout', async () => {
    const full = open({ path: await dbPath() });
    expect(full.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(full.database.pragma('synchronous', { simple: true })).toBe(2);
    expect(full.database.pragma('busy_timeout', { simple: true })).toBe(5_000);
    const normal = open({ path: await dbPath(), synchronous: 'NORMAL', busyTimeoutMs: 250 });
    expect(normal.database.pragma('synchronous', { simple: true })).toBe(1);
    expect(normal.database.pragma('busy_timeout', { simple: true })).toBe(250);
  });

  it('migrates an empty file and reopens without migrating again', async () => {
    const path = await dbPath();
    await writeFile(path, '', { mode: 0o600 });
    const ob = open({ path });
    expect(ob.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const tables = ob.database
      .prepare(`SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name`)
      .pluck()
      .all();
    expect(tables).toEqual(
      expect.arrayContaining([
        'lease',
        'outbox_log',
        'outbox_marks',
        'outbox_marks_state',
        'outbox_batches',
        'outbox_batches_span',
        'outbox_counts',
        'outbox_meta',
      ]),
    );
    expect(tables).not.toContain('outbox');
    await ob.append([newRow(1)]);
    await ob.close();
    const again = open({ path });
    expect(again.get(newRow(1).correlationId)?.state).toBe('pending-commit');
  });

  it('refuses a file with a newer schema version with OUTBOX_SCHEMA', async () => {
    const path = await dbPath();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => SqliteOutbox.open({ path })).toThrow(expect.objectContaining({ code: 'OUTBOX_SCHEMA' }));
  });

  it('translates an unopenable path into OUTBOX_IO with the cause', async () => {
    const path = join(await dbPath(), 'no-such-dir', 'x.db');
    let caught: unknown;
    try {
      SqliteOutbox.open({ path });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NetSyncError);
    expect((caught as NetSyncError).code).toBe('OUTBOX_IO');
    expect((caught as NetSyncError).cause).toBeDefined();
  });

  it('group-commits 2,000 concurrent appends in a few transactions', async () => {
    const register = new Registry();
    const ob = open({ path: await dbPath(), metrics: createBufferMetrics(register), groupCommitMaxRows: 1_000 });
    await Promise.all(Array.from({ length: 2_000 }, (_, i) => ob.append([newRow(i)])));
    const rows = await histogramCount(register, 'net_sync_outbox_group_commit_rows');
    expect(rows.sum).toBe(2_000);
    expect(rows.count).toBe(2); // 1,000 rows per transaction, callers never split
    expect((await histogramCount(register, 'net_sync_outbox_group_commit_seconds')).count).toBe(2);
    expect(ob.counts()['pending-commit']).toBe(2_000);
    const appended = await register.getSingleMetric('net_sync_outbox_append_rows_total')!.get();
    expect(appended.values.find((v) => v.labels.kind === 'command')?.value).toBe(2_000);
  });

  it('keeps one caller in one transaction even past groupCommitMaxRows', async () => {
    const register = new Registry();
    const ob = open({ path: await dbPath(), metrics: createBufferMetrics(register), groupCommitMaxRows: 100 });
    const big = Array.from({ length: 250 }, (_, i) => newRow(i));
    await Promise.all([ob.append(big), ob.append([newRow(1_000)]), ob.append([newRow(1_001)])]);
    const rows = await histogramCount(register, 'net_sync_outbox_group_commit_rows');
    expect(rows).toEqual({ count: 2, sum: 252 });
  });

  it('rejects every caller of a failed transaction with OUTBOX_IO and stores none of them', async () => {
    const ob = open({ path: await dbPath() });
    const bad = { ...newRow(2), kind: 'bogus' } as unknown as NewOutboxRow;
    const results = await Promise.allSettled([ob.append([newRow(1)]), ob.append([bad]), ob.append([newRow(3)])]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason as NetSyncError;
      expect(err.code).toBe('OUTBOX_IO');
      expect((err.cause as Error).name).toBe('SqliteError');
    }
    expect(ob.counts()['pending-commit']).toBe(0);
    await ob.append([newRow(4)]);
    expect(ob.get(newRow(4).correlationId)).toBeDefined();
  });

  it('drains queued appends on close, survives reopen, and is safe to close twice', async () => {
    const path = await dbPath();
    const ob = SqliteOutbox.open({ path });
    const pending = Array.from({ length: 50 }, (_, i) => ob.append([newRow(i)]));
    await Promise.all([ob.close(), ob.close()]);
    await Promise.all(pending);
    await expect(ob.append([newRow(99)])).rejects.toMatchObject({ code: 'OUTBOX_IO' });
    expect(() => ob.get('x')).toThrow(expect.objectContaining({ code: 'OUTBOX_IO' }));
    const again = open({ path });
    expect(again.counts()['pending-commit']).toBe(50);
    expect(Array.from(again.get(newRow(7).correlationId)!.body)).toEqual(Array.from(newRow(7).body));
  });

  it('counts dropped telemetry in the property, the metric and a warn log', async () => {
    const register = new Registry();
    const warnings: unknown[] = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const ob = open({ path: await dbPath(), telemetryCap: 10, metrics: createBufferMetrics(register), logger });
    await ob.append(Array.from({ length: 25 }, (_, i) => newRow(i, { kind: 'telemetry' })));
    expect(ob.droppedTelemetryTotal).toBe(15);
    expect((await register.getSingleMetric('net_sync_outbox_telemetry_dropped_total')!.get()).values[0]?.value).toBe(
      15,
    );
    expect(warnings).toEqual([expect.objectContaining({ dropped: 15, cap: 10 })]);
    expect(ob.listPublishable(100).map((r) => r.correlationId)[0]).toBe(newRow(15).correlationId);
  });

  it('shares the file with a second instance (another process) under the lease', async () => {
    const path = await dbPath();
    const sidecar = open({ path });
    const reconcile = open({ path });
    await sidecar.append([newRow(1), newRow(2)]);
    expect(reconcile.listPublishable(10)).toHaveLength(2);
    expect(sidecar.tryLease('sidecar', 10_000, 1_000)).toBe(true);
    expect(reconcile.tryLease('reconcile', 10_000, 2_000)).toBe(false);
    expect(reconcile.leaseHolder(2_000)).toEqual({ owner: 'sidecar', expiresAtMs: 11_000 });
    reconcile.markCommitted([{ correlationId: newRow(1).correlationId, stream: 'CMD', seq: 9 }], 3_000);
    sidecar.markRetry([newRow(1).correlationId], 'late', 3_001);
    expect(sidecar.get(newRow(1).correlationId)).toMatchObject({ state: 'committed', streamSeq: 9 });
    sidecar.releaseLease('sidecar');
    expect(reconcile.tryLease('reconcile', 10_000, 4_000)).toBe(true);
    await reconcile.append([newRow(3)]);
    expect(sidecar.counts()).toMatchObject({ 'pending-commit': 2, committed: 1 });
  });

  it('reports append throughput under concurrency', async () => {
    const ob = open({ path: await dbPath() });
    const n = 20_000;
    const started = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => ob.append([newRow(i)])));
    const seconds = (performance.now() - started) / 1_000;
    console.info(
      `[outbox] ${n} concurrent single-row appends in ${seconds.toFixed(3)} s: ${Math.round(n / seconds)} rows/s`,
    );
    expect(ob.counts()['pending-commit']).toBe(n);
  });
});
