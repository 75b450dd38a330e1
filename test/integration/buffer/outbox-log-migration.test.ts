// Migration 4 (the outbox as a log): a file written by the version-3 schema, with a row in every
// state, opens with every row's state, bookkeeping and bytes as they were, and goes on as a log.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION, SqliteOutbox } from '../../../src/buffer/index.js';
import { newRow } from '../../support/outbox-contract.js';

const T0 = 1_700_000_000_000;
const id = (n: number): string => newRow(n).correlationId;

/** The version-3 schema as it shipped, with rows written the way its code wrote them. */
function writeVersion3File(path: string): void {
  const raw = new Database(path);
  raw.pragma('journal_mode = WAL');
  for (const m of MIGRATIONS.filter((m) => m.version <= 3)) raw.exec(m.sql);
  raw.pragma('user_version = 3');
  const insert = raw.prepare(`INSERT INTO outbox (correlation_id, subject, body, headers, kind, state, created_at_ms,
    updated_at_ms, attempts, first_attempt_at_ms, last_attempt_at_ms, last_error, stream, stream_seq, committed_at_ms,
    reason)
    VALUES (@id, @subject, @body, @headers, @kind, @state, @created, @updated, @attempts, @first, @last, @error,
      @stream, @streamSeq, @committedAt, @reason)`);
  const row = (n: number, over: Record<string, unknown>): void => {
    const r = newRow(n);
    insert.run({
      id: r.correlationId,
      subject: r.subject,
      body: Buffer.from(r.body),
      headers: JSON.stringify(r.headers),
      kind: 'command',
      state: 'pending-commit',
      created: T0 + n,
      updated: T0 + n,
      attempts: 0,
      first: null,
      last: null,
      error: null,
      stream: null,
      streamSeq: null,
      committedAt: null,
      reason: null,
      ...over,
    });
  };
  row(1, {
    state: 'committed',
    updated: T0 + 100,
    attempts: 1,
    first: T0 + 50,
    last: T0 + 50,
    stream: 'CMD',
    streamSeq: 7,
    committedAt: T0 + 100,
  });
  row(2, { state: 'in-flight', updated: T0 + 60, attempts: 2, first: T0 + 40, last: T0 + 60 });
  row(3, {});
  row(4, {
    state: 'pending-commit',
    updated: T0 + 70,
    attempts: 1,
    first: T0 + 65,
    last: T0 + 65,
    error: 'no responders',
  });
  row(5, { state: 'proposed' });
  row(6, { state: 'dead', updated: T0 + 80, reason: 'permission denied' });
  row(7, { state: 'expired', updated: T0 + 80, reason: 'ttl' });
  row(8, { state: 'rejected', updated: T0 + 80, reason: 'vetoed' });
  row(9, { kind: 'telemetry' });
  row(10, {});
  // The highest seq ever given was deleted (pruned): the log must not give it again.
  raw.prepare(`DELETE FROM outbox WHERE correlation_id = ?`).run(id(10));
  raw.close();
}

describe('migration 4: the outbox as a log', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('opens a version-3 file with every row, state and count as they were', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'net-sync-migrate-'));
    dirs.push(dir);
    const path = join(dir, 'outbox.db');
    writeVersion3File(path);
    const ob = SqliteOutbox.open({ path });
    expect(ob.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(ob.get(id(1))).toMatchObject({
      state: 'committed',
      stream: 'CMD',
      streamSeq: 7,
      committedAtMs: T0 + 100,
      attempts: 1,
      firstAttemptAtMs: T0 + 50,
      updatedAtMs: T0 + 100,
    });
    expect(ob.get(id(2))).toMatchObject({
      state: 'in-flight',
      attempts: 2,
      firstAttemptAtMs: T0 + 40,
      lastAttemptAtMs: T0 + 60,
    });
    expect(ob.get(id(3))).toMatchObject({ state: 'pending-commit', attempts: 0, updatedAtMs: T0 + 3, lastError: null });
    expect(ob.get(id(4))).toMatchObject({ state: 'pending-commit', attempts: 1, lastError: 'no responders' });
    expect(ob.get(id(5))?.state).toBe('proposed');
    expect(ob.get(id(6))).toMatchObject({ state: 'dead', reason: 'permission denied' });
    expect(ob.get(id(7))).toMatchObject({ state: 'expired', reason: 'ttl' });
    expect(ob.get(id(8))).toMatchObject({ state: 'rejected', reason: 'vetoed' });
    expect(ob.get(id(9))).toMatchObject({ state: 'pending-commit', kind: 'telemetry' });
    expect(Array.from(ob.get(id(3))!.body)).toEqual(Array.from(newRow(3).body));
    expect(ob.get(id(3))!.headers).toEqual(newRow(3).headers);
    expect(ob.counts()).toEqual({
      proposed: 1,
      'pending-commit': 3,
      'in-flight': 1,
      committed: 1,
      expired: 1,
      rejected: 1,
      dead: 1,
    });
    expect(ob.counts('telemetry')['pending-commit']).toBe(1);
    expect(ob.listPublishable(10).map((r) => r.correlationId)).toEqual([id(3), id(4), id(9)]);
    expect(ob.listByState(['in-flight'], 10).map((r) => r.correlationId)).toEqual([id(2)]);
    expect(ob.oldestPendingCreatedAtMs()).toBe(T0 + 2);

    // It goes on as a log: new seqs above every seq the old table gave, claims and commits by batch.
    await ob.append([newRow(11)]);
    const seq11 = ob.get(id(11))!.seq;
    expect(seq11).toBeGreaterThan(10);
    expect(ob.claim({ ids: [id(3), id(4), id(11)], atMs: T0 + 200, committed: [] })).toEqual([id(3), id(4), id(11)]);
    ob.markCommitted(
      [3, 4, 11].map((n, i) => ({ correlationId: id(n), stream: 'CMD', seq: 20 + i })),
      T0 + 300,
    );
    expect(ob.get(id(4))).toMatchObject({ state: 'committed', attempts: 2, streamSeq: 21, lastError: 'no responders' });
    expect(ob.get(id(11))).toMatchObject({ state: 'committed', attempts: 1, streamSeq: 22, committedAtMs: T0 + 300 });
    expect(ob.pruneSettled(T0 + 1_000, 100)).toBe(6);
    expect(ob.counts()).toMatchObject({ committed: 0, dead: 1, 'in-flight': 1, proposed: 1, 'pending-commit': 1 });
    await ob.close();
    const again = SqliteOutbox.open({ path });
    expect(again.get(id(2))?.state).toBe('in-flight');
    await again.close();
  });
});
