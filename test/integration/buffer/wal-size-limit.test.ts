// The outbox's -wal file is cut back after a spike (issue 16: "the WAL can take a small disk
// whole"): a reader holds back checkpoints while 25 MiB are written, then, once it lets go and a
// checkpoint runs, the file shrinks to WAL_SIZE_LIMIT_BYTES instead of keeping its peak forever.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, WAL_SIZE_LIMIT_BYTES } from '../../../src/buffer/open-database.js';
import { tempDir } from '../../support/temp-dir.js';

describe('outbox WAL size', () => {
  it('shrinks back to the limit after a checkpoint', () => {
    const path = join(tempDir('wal-limit'), 'outbox.db');
    const db = openDatabase({ path, synchronous: 'NORMAL', busyTimeoutMs: 1_000 });
    expect(db.pragma('journal_size_limit', { simple: true })).toBe(WAL_SIZE_LIMIT_BYTES);
    db.exec('CREATE TABLE spike (data BLOB)');
    const reader = new Database(path);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM spike').get(); // a read snapshot pins the WAL
    const insert = db.prepare('INSERT INTO spike VALUES (?)');
    for (let i = 0; i < 400; i++) insert.run(Buffer.alloc(64 * 1024));
    const peak = statSync(`${path}-wal`).size;
    reader.exec('COMMIT');
    reader.close();
    db.exec('DELETE FROM spike');
    db.pragma('wal_checkpoint(PASSIVE)');
    insert.run(Buffer.alloc(16)); // the next write restarts the WAL and truncates it
    const after = statSync(`${path}-wal`).size;
    console.log(`wal: peak ${peak} bytes, after the checkpoint ${after} bytes`);
    expect(peak).toBeGreaterThan(WAL_SIZE_LIMIT_BYTES);
    expect(after).toBeLessThanOrEqual(WAL_SIZE_LIMIT_BYTES);
    db.close();
  });
});
