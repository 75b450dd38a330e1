// Migration 3 and federation's SQLite ledgers: a version-2 outbox file (with its rows) is brought
// to version 3 in place; records survive a reopen; a known event ID and a receipt applied twice
// are left as they are.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MIGRATIONS,
  SCHEMA_VERSION,
  SqliteAppliedAcks,
  SqliteOutbox,
  SqliteReceivedEvents,
} from '../../../src/buffer/index.js';
import { newRow } from '../../support/outbox-contract.js';

const dirs: string[] = [];
afterEach(async () => {
  for (let d = dirs.pop(); d !== undefined; d = dirs.pop()) await rm(d, { recursive: true, force: true });
});

async function dbPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'net-sync-fed-ledger-'));
  dirs.push(dir);
  return join(dir, 'outbox.db');
}

const event = {
  partner: 'org',
  eventId: 'E1',
  digest: 'a'.repeat(64),
  msgId: 'E1',
  stream: 'FEDERATION',
  streamSeq: 3,
  state: 'accepted' as const,
  receivedAtMs: 1_000,
};

describe('migration 3: federation ledgers', () => {
  it('upgrades a version-2 file in place, keeping its rows', async () => {
    const path = await dbPath();
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    for (const m of MIGRATIONS.filter((m) => m.version <= 2)) raw.exec(m.sql);
    raw.pragma('user_version = 2');
    raw.close();
    const ob = SqliteOutbox.open({ path });
    expect(ob.database.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const tables = ob.database.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all();
    expect(tables).toEqual(
      expect.arrayContaining(['outbox_log', 'inbox_applied', 'federation_received', 'federation_acks']),
    );
    await ob.append([newRow(1)]);
    await ob.close();
  });

  it('records received events and applied receipts durably, once each', async () => {
    const path = await dbPath();
    let ob = SqliteOutbox.open({ path });
    let received = new SqliteReceivedEvents(ob.database);
    let acks = new SqliteAppliedAcks(ob.database);
    received.record(event);
    received.record({ ...event, digest: 'b'.repeat(64) }); // a known event ID is left as it is
    received.record({ ...event, partner: 'beta' }); // the same ID from another partner is another event
    expect(received.get('org', 'E1')).toEqual(event);
    expect(received.byDigest('org', 'a'.repeat(64))?.eventId).toBe('E1');
    expect(received.byDigest('org', 'b'.repeat(64))).toBeUndefined();
    received.settle('org', 'E1', 'delivered');
    const applied = {
      eventId: 'X1',
      partner: 'acme',
      status: 'rejected' as const,
      reason: 'bad-signature' as const,
      signers: ['k1'],
      ackMsgId: 'ack-X1-aaaa',
      appliedAtMs: 5,
    };
    expect(acks.apply(applied)).toBe(true);
    expect(acks.apply({ ...applied, status: 'accepted' })).toBe(false);
    // Several in one transaction: a known event and a repeat within the list are left as they are.
    const x2 = { ...applied, eventId: 'X2', ackMsgId: 'ack-X2-bbbb', appliedAtMs: 6 };
    const x3 = { ...applied, eventId: 'X3', ackMsgId: 'ack-X3-cccc', appliedAtMs: 7 };
    expect(acks.applyMany([{ ...applied, status: 'accepted' }, x2, x3, { ...x3, status: 'accepted' }])).toEqual([
      false,
      true,
      true,
      false,
    ]);
    await ob.close();

    ob = SqliteOutbox.open({ path });
    received = new SqliteReceivedEvents(ob.database);
    acks = new SqliteAppliedAcks(ob.database);
    expect(received.get('org', 'E1')?.state).toBe('delivered');
    expect(received.countByPartner()).toEqual(
      new Map([
        ['beta', 1],
        ['org', 1],
      ]),
    );
    expect(acks.get('X1')).toEqual(applied);
    expect(acks.list('acme')).toEqual([applied, x2, x3]);
    expect(acks.list('beta')).toEqual([]);
    expect(acks.appliedAmong(['X3', 'nope', 'X1'])).toEqual(new Set(['X3', 'X1']));
    expect(acks.appliedAmong([])).toEqual(new Set());
    await ob.close();
  });
});
