// The payload store on a real outbox file: bytes in a file beside it, index row after the fsync,
// payloads of migration 5 (bytes in SQLite) still read, upload marks that never rewrite the bytes.
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteOutbox, SqlitePayloadStore } from '../../../src/buffer/index.js';
import { payloadDirOf } from '../../../src/buffer/sqlite-payload-store.js';
import { newRow } from '../../support/outbox-contract.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function open(): Promise<{ path: string; outbox: SqliteOutbox; store: SqlitePayloadStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'net-sync-payloads-'));
  const path = join(dir, 'outbox.db');
  const outbox = SqliteOutbox.open({ path });
  cleanups.push(async () => {
    await outbox.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  return { path, outbox, store: new SqlitePayloadStore(outbox.database) };
}

const ID = '01JAAAAAAAAAAAAAAAAAAAAAAA';
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('SqlitePayloadStore', () => {
  it('writes the bytes to a file beside the outbox, indexed; a second put of one ID changes nothing', async () => {
    const { path, outbox, store } = await open();
    await store.put(ID, bytes(300_000, 7), 'd'.repeat(64), 1_000);
    const file = join(payloadDirOf(path), ID);
    expect(readFileSync(file)).toEqual(Buffer.from(bytes(300_000, 7)));
    expect(readdirSync(payloadDirOf(path)), 'no temporary file left').toEqual([ID]);
    const row = outbox.database.prepare('SELECT digest, size FROM payload_files WHERE correlation_id = ?').get(ID);
    expect(row).toEqual({ digest: 'd'.repeat(64), size: 300_000 });
    await store.put(ID, bytes(10, 9), 'e'.repeat(64), 2_000);
    expect(readFileSync(file).length).toBe(300_000);
    // A fresh store (a restart) reads it from the file, not from memory.
    const again = new SqlitePayloadStore(outbox.database);
    expect(again.get(ID)).toEqual(bytes(300_000, 7));
    expect(again.notUploaded(10)).toEqual([{ correlationId: ID, digest: 'd'.repeat(64), size: 300_000 }]);
    again.markUploaded(ID, 3_000);
    expect(again.notUploaded(10)).toEqual([]);
  });

  it('still reads and lists a payload stored as a blob by the previous version', async () => {
    const { outbox, store } = await open();
    const old = '01JBBBBBBBBBBBBBBBBBBBBBBB';
    outbox.database
      .prepare('INSERT INTO payloads (correlation_id, bytes, digest, stored_at_ms) VALUES (?, ?, ?, ?)')
      .run(old, Buffer.from(bytes(5, 1)), 'a'.repeat(64), 10);
    await store.put(ID, bytes(6, 2), 'b'.repeat(64), 20);
    expect(store.get(old)).toEqual(bytes(5, 1));
    expect(store.notUploaded(10).map((p) => [p.correlationId, p.size])).toEqual([
      [old, 5],
      [ID, 6],
    ]);
    store.markUploaded(old, 30);
    expect(store.notUploaded(10).map((p) => p.correlationId)).toEqual([ID]);
    const uploaded = outbox.database.prepare('SELECT uploaded_at_ms FROM payloads WHERE correlation_id = ?').get(old);
    expect(uploaded, 'the blob row is not rewritten by the mark').toEqual({ uploaded_at_ms: null });
  });

  it('prunes orphans (no outbox row) with their files, stray files and temporaries, after the grace', async () => {
    const { path, outbox, store } = await open();
    const kept = '01JCCCCCCCCCCCCCCCCCCCCCCC';
    await outbox.append([newRow(1, { correlationId: kept })]);
    await store.put(kept, bytes(4, 3), 'c'.repeat(64), 10);
    await store.put(ID, bytes(4, 4), 'd'.repeat(64), 10);
    store.markUploaded(ID, 11);
    const dir = payloadDirOf(path);
    writeFileSync(join(dir, '01JDDDDDDDDDDDDDDDDDDDDDDD'), 'crash before the row');
    writeFileSync(join(dir, '01JEEEEEEEEEEEEEEEEEEEEEEE.tmp'), 'crash mid-write');
    writeFileSync(join(dir, '01JFFFFFFFFFFFFFFFFFFFFFFF'), 'fresh: another put may be on its way');
    const old = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(join(dir, '01JDDDDDDDDDDDDDDDDDDDDDDD'), old, old);
    utimesSync(join(dir, '01JEEEEEEEEEEEEEEEEEEEEEEE.tmp'), old, old);
    expect(store.pruneOrphans(Date.now() - 3_600_000, 100)).toBe(3);
    expect(readdirSync(dir).sort()).toEqual(['01JCCCCCCCCCCCCCCCCCCCCCCC', '01JFFFFFFFFFFFFFFFFFFFFFFF']);
    expect(store.get(ID)).toBeUndefined();
    expect(store.get(kept)).toEqual(bytes(4, 3));
    expect(outbox.database.prepare('SELECT count(*) AS n FROM payload_uploads').get()).toEqual({ n: 0 });
    expect(existsSync(join(dir, ID))).toBe(false);
  });

  it('refuses an ID that is not a plain file name', async () => {
    const { store } = await open();
    await expect(store.put('../escape', bytes(1, 0), 'a'.repeat(64), 0)).rejects.toMatchObject({ code: 'OUTBOX_IO' });
  });
});
