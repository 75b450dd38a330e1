/**
 * The `Outbox` contract as a shared vitest suite, run against every implementation
 * (SqliteOutbox in integration, MemoryOutbox in unit) so the fake cannot drift.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NewOutboxRow, RowKind } from '../../src/core/intent.js';
import type { Outbox } from '../../src/core/ports.js';

/** What a contract run needs from an implementation. */
export interface OutboxFixture {
  outbox: Outbox;
  /** Telemetry rows dropped so far (both implementations expose `droppedTelemetryTotal`). */
  dropped(): number;
  dispose(): Promise<void>;
}

/** Creates a fresh, empty outbox for one test. */
export type OutboxFactory = (opts: { telemetryCap?: number }) => Promise<OutboxFixture>;

const T0 = 1_700_000_000_000;

/** A new row with defaults; `n` makes the ID, subject and body distinct. */
export function newRow(n: number, over: Partial<NewOutboxRow> = {}): NewOutboxRow {
  return {
    correlationId: `01TEST${String(n).padStart(8, '0')}`,
    subject: `root.solar.command.test.n${n}`,
    body: new TextEncoder().encode(JSON.stringify({ n })),
    headers: { 'Net-Sync-Correlation-Id': `01TEST${n}`, traceparent: '00-abc-def-01' },
    kind: 'command',
    state: 'pending-commit',
    createdAtMs: T0 + n,
    ...over,
  };
}

const id = (n: number): string => newRow(n).correlationId;
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Registers the contract suite for one implementation. */
export function describeOutboxContract(name: string, factory: OutboxFactory): void {
  describe(`Outbox contract: ${name}`, () => {
    const fixtures: OutboxFixture[] = [];
    const make = async (opts: { telemetryCap?: number } = {}): Promise<Outbox> => {
      const f = await factory(opts);
      fixtures.push(f);
      return f.outbox;
    };
    afterEach(async () => {
      for (const f of fixtures.splice(0).reverse()) await f.dispose();
    });

    it('stores a row byte for byte with fresh bookkeeping', async () => {
      const ob = await make();
      const row = newRow(1, { body: new Uint8Array([0, 255, 1, 128]) });
      await ob.append([row]);
      const got = ob.get(row.correlationId);
      expect(got).toMatchObject({
        correlationId: row.correlationId,
        subject: row.subject,
        headers: row.headers,
        kind: 'command',
        state: 'pending-commit',
        createdAtMs: row.createdAtMs,
        attempts: 0,
        firstAttemptAtMs: null,
        lastAttemptAtMs: null,
        lastError: null,
        stream: null,
        streamSeq: null,
        committedAtMs: null,
        reason: null,
      });
      expect(Array.from(got!.body)).toEqual([0, 255, 1, 128]);
      expect(got!.body).toBeInstanceOf(Uint8Array);
      expect(ob.get('missing')).toBeUndefined();
    });

    it('ignores a duplicate correlationId, within one call and across calls', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(1, { subject: 'root.solar.command.other.x' })]);
      await ob.append([newRow(1, { subject: 'root.solar.command.third.x' }), newRow(2)]);
      expect(ob.get(id(1))?.subject).toBe(newRow(1).subject);
      expect(ob.counts()['pending-commit']).toBe(2);
    });

    it('resolves concurrent appends, all stored in insertion order', async () => {
      const ob = await make();
      await Promise.all(range(1, 300).map((n) => ob.append([newRow(n)])));
      await ob.append([]);
      const rows = ob.listPublishable(1_000);
      expect(rows.map((r) => r.correlationId)).toEqual(range(1, 300).map(id));
      expect(rows.every((r, i) => i === 0 || r.seq > rows[i - 1]!.seq)).toBe(true);
    });

    it('lists publishable rows by seq with limit, afterSeq and includeInFlight', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(2, { state: 'proposed' }), newRow(3), newRow(4), newRow(5)]);
      ob.markInFlight([id(3)], T0);
      expect(ob.listPublishable(10).map((r) => r.correlationId)).toEqual([id(1), id(4), id(5)]);
      expect(ob.listPublishable(10, 0, true).map((r) => r.correlationId)).toEqual([id(1), id(3), id(4), id(5)]);
      expect(ob.listPublishable(2, 0, true).map((r) => r.correlationId)).toEqual([id(1), id(3)]);
      const seq3 = ob.get(id(3))!.seq;
      expect(ob.listPublishable(10, seq3, true).map((r) => r.correlationId)).toEqual([id(4), id(5)]);
      expect(ob.listPublishable(0)).toEqual([]);
      expect(ob.listByState(['in-flight'], 10).map((r) => r.correlationId)).toEqual([id(3)]);
      expect(ob.listByState(['proposed', 'in-flight'], 10).map((r) => r.correlationId)).toEqual([id(2), id(3)]);
    });

    it('markInFlight counts attempts and keeps the first attempt time', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(2, { state: 'proposed' })]);
      ob.markInFlight([id(1), id(2), 'missing'], T0 + 10);
      ob.markInFlight([id(1)], T0 + 20);
      expect(ob.get(id(1))).toMatchObject({
        state: 'in-flight',
        attempts: 2,
        firstAttemptAtMs: T0 + 10,
        lastAttemptAtMs: T0 + 20,
      });
      expect(ob.get(id(2))).toMatchObject({ state: 'proposed', attempts: 0 });
    });

    it('markInFlight never moves committed or terminal rows', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(2)]);
      ob.markCommitted([{ correlationId: id(1), stream: 'CMD', seq: 7 }], T0);
      ob.markTerminal([id(2)], 'dead', 'permission denied', T0);
      ob.markInFlight([id(1), id(2)], T0 + 1);
      expect(ob.get(id(1))).toMatchObject({ state: 'committed', attempts: 0 });
      expect(ob.get(id(2))).toMatchObject({ state: 'dead', attempts: 0 });
    });

    it('markCommitted is idempotent and never changes a committed seq', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(2)]);
      ob.markInFlight([id(1)], T0 + 1);
      ob.markCommitted([{ correlationId: id(1), stream: 'CMD', seq: 42 }], T0 + 2);
      ob.markCommitted([{ correlationId: id(1), stream: 'OTHER', seq: 99 }], T0 + 3);
      expect(ob.get(id(1))).toMatchObject({ state: 'committed', stream: 'CMD', streamSeq: 42, committedAtMs: T0 + 2 });
      ob.markCommitted(
        [
          { correlationId: id(2), stream: 'CMD', seq: 43 },
          { correlationId: 'missing', stream: 'CMD', seq: 1 },
        ],
        T0 + 4,
      );
      expect(ob.get(id(2))).toMatchObject({ state: 'committed', streamSeq: 43 });
    });

    it('claim records commits, renews the lease and moves only pending-commit rows', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(2), newRow(3), newRow(4, { state: 'proposed' }), newRow(5)]);
      ob.markTerminal([id(3)], 'dead', 'permission denied', T0);
      const lease = { owner: 'sidecar', ttlMs: 1_000 };
      expect(ob.claim({ ids: [id(1), id(2)], atMs: T0 + 10, committed: [], lease })).toEqual([id(1), id(2)]);
      expect(ob.leaseHolder(T0 + 10)).toEqual({ owner: 'sidecar', expiresAtMs: T0 + 1_010 });
      const claimed = ob.claim({
        ids: [id(2), id(3), id(4), id(5), 'missing'],
        atMs: T0 + 20,
        committed: [{ correlationId: id(1), stream: 'CMD', seq: 9 }],
        lease,
      });
      expect(claimed).toEqual([id(5)]);
      expect(ob.get(id(1))).toMatchObject({ state: 'committed', streamSeq: 9, committedAtMs: T0 + 20 });
      expect(ob.get(id(2))).toMatchObject({ state: 'in-flight', attempts: 1, firstAttemptAtMs: T0 + 10 });
      expect(ob.get(id(3))?.state).toBe('dead');
      expect(ob.get(id(4))?.state).toBe('proposed');
      expect(ob.get(id(5))).toMatchObject({
        state: 'in-flight',
        attempts: 1,
        firstAttemptAtMs: T0 + 20,
        lastAttemptAtMs: T0 + 20,
      });
      expect(ob.claim({ ids: [], atMs: T0 + 30, committed: [] })).toEqual([]);
    });

    it('lists in-flight rows anywhere in a pending backlog: claimed, claimed on append, claimed again', async () => {
      const ob = await make();
      await ob.append(range(1, 40).map((n) => newRow(n)));
      // A claim of 1-4 committed in part, then one of 20-21 past pending rows, and a retried row claimed again.
      ob.claim({ ids: range(1, 4).map(id), atMs: T0 + 10, committed: [] });
      ob.markCommitted([{ correlationId: id(1), stream: 'CMD', seq: 1 }], T0 + 11);
      ob.claim({ ids: [id(20), id(21)], atMs: T0 + 12, committed: [] });
      ob.markRetry([id(3)], 'not found', T0 + 13);
      ob.claim({ ids: [id(3)], atMs: T0 + 14, committed: [] });
      // Rows claimed by their append, behind 40 pending ones.
      ob.onAppended(() => undefined);
      ob.claimAppends({ owner: 'sidecar', ttlMs: 1_000, now: () => T0 + 20, room: () => 2 });
      await ob.append([newRow(41), newRow(42), newRow(43)]);
      ob.claimAppends(null);
      const inFlight = (limit: number, after?: number): number[] =>
        ob.listByState(['in-flight'], limit, after).map((r) => Number(r.correlationId.slice(6)));
      expect(inFlight(100)).toEqual([2, 3, 4, 20, 21, 41, 42]);
      expect(inFlight(3)).toEqual([2, 3, 4]);
      const listed = ob.listByState(['in-flight'], 100);
      expect(listed[3]).toMatchObject({ correlationId: id(20), subject: newRow(20).subject, attempts: 1 });
      expect(new TextDecoder().decode(listed[3]!.body)).toBe(JSON.stringify({ n: 20 }));
      expect(ob.listByState(['pending-commit'], 100).length).toBe(43 - 1 - 7);
    });

    it('claim moves nothing while another owner holds the lease, but records commits', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(2)]);
      expect(ob.tryLease('reconcile', 1_000, T0)).toBe(true);
      const claimed = ob.claim({
        ids: [id(2)],
        atMs: T0 + 1,
        committed: [{ correlationId: id(1), stream: 'CMD', seq: 3 }],
        lease: { owner: 'sidecar', ttlMs: 1_000 },
      });
      expect(claimed).toBeNull();
      expect(ob.get(id(1))?.state).toBe('committed');
      expect(ob.get(id(2))).toMatchObject({ state: 'pending-commit', attempts: 0 });
      expect(ob.leaseHolder(T0 + 1)?.owner).toBe('reconcile');
    });

    it('tells append listeners the rows each append stored, with their seq, duplicates left out', async () => {
      const ob = await make();
      const seen: Array<{ id: string; seq: number; state: string }> = [];
      const off = ob.onAppended((rows) =>
        seen.push(...rows.map((r) => ({ id: r.correlationId, seq: r.seq, state: r.state }))),
      );
      await ob.append([newRow(1), newRow(2, { state: 'proposed' })]);
      await ob.append([newRow(1), newRow(3)]);
      expect(seen.map((r) => r.id)).toEqual([id(1), id(2), id(3)]);
      expect(seen.map((r) => r.seq)).toEqual([id(1), id(2), id(3)].map((i) => ob.get(i)!.seq));
      expect(seen.map((r) => r.state)).toEqual(['pending-commit', 'proposed', 'pending-commit']);
      off();
      await ob.append([newRow(4)]);
      expect(seen).toHaveLength(3);
    });

    it('claimAppends stores up to room publishable rows in-flight, renewing the lease, hands them out so', async () => {
      const ob = await make();
      const seen: Array<{ id: string; state: string; attempts: number; at: number | null }> = [];
      ob.onAppended((rows) =>
        seen.push(
          ...rows.map((r) => ({ id: r.correlationId, state: r.state, attempts: r.attempts, at: r.firstAttemptAtMs })),
        ),
      );
      let rooms = 0;
      ob.claimAppends({
        owner: 'sidecar',
        ttlMs: 1_000,
        now: () => T0 + 50,
        room: () => {
          rooms++;
          return 2;
        },
      });
      await ob.append([newRow(1, { state: 'proposed' }), newRow(2), newRow(3), newRow(4)]);
      expect(seen).toEqual([
        { id: id(1), state: 'proposed', attempts: 0, at: null },
        { id: id(2), state: 'in-flight', attempts: 1, at: T0 + 50 },
        { id: id(3), state: 'in-flight', attempts: 1, at: T0 + 50 },
        { id: id(4), state: 'pending-commit', attempts: 0, at: null },
      ]);
      expect(ob.get(id(3))).toMatchObject({
        state: 'in-flight',
        attempts: 1,
        firstAttemptAtMs: T0 + 50,
        lastAttemptAtMs: T0 + 50,
        updatedAtMs: T0 + 50,
      });
      expect(ob.get(id(4))).toMatchObject({ state: 'pending-commit', attempts: 0 });
      expect(ob.leaseHolder(T0 + 50)).toEqual({ owner: 'sidecar', expiresAtMs: T0 + 1_050 });
      // Only proposed rows: room is not asked.
      await ob.append([newRow(5, { state: 'proposed' })]);
      expect(rooms).toBe(1);
      // A duplicate takes no room.
      await ob.append([newRow(3), newRow(6), newRow(7), newRow(8)]);
      expect([6, 7, 8].map((n) => ob.get(id(n))?.state)).toEqual(['in-flight', 'in-flight', 'pending-commit']);
      ob.claimAppends(null);
      await ob.append([newRow(9)]);
      expect(ob.get(id(9))?.state).toBe('pending-commit');
    });

    it('claimAppends never fails an append: a throwing claimer leaves the rows unclaimed', async () => {
      const ob = await make();
      ob.onAppended(() => undefined);
      ob.claimAppends({
        owner: 'sidecar',
        ttlMs: 1_000,
        now: () => T0,
        room: () => {
          throw new Error('claimer bug');
        },
      });
      await ob.append([newRow(1)]);
      expect(ob.get(id(1))).toMatchObject({ state: 'pending-commit', attempts: 0 });
    });

    it('claimAppends claims nothing while another owner holds the lease, with no room or no listener', async () => {
      const ob = await make();
      let room = 5;
      ob.claimAppends({ owner: 'sidecar', ttlMs: 1_000, now: () => T0 + 10, room: () => room });
      await ob.append([newRow(0)]);
      expect(ob.get(id(0))?.state).toBe('pending-commit'); // nobody to hand claimed rows to
      ob.onAppended(() => undefined);
      expect(ob.tryLease('reconcile', 1_000, T0)).toBe(true);
      await ob.append([newRow(1)]);
      expect(ob.get(id(1))).toMatchObject({ state: 'pending-commit', attempts: 0 });
      expect(ob.leaseHolder(T0 + 10)?.owner).toBe('reconcile');
      ob.releaseLease('reconcile');
      room = 0;
      await ob.append([newRow(2)]);
      expect(ob.get(id(2))?.state).toBe('pending-commit');
      expect(ob.leaseHolder(T0 + 10)).toBeNull();
      room = 5;
      await ob.append([newRow(3)]);
      expect(ob.get(id(3))?.state).toBe('in-flight');
    });

    it('markCommitted moves a terminal row found in the stream', async () => {
      const ob = await make();
      await ob.append([newRow(1)]);
      ob.markTerminal([id(1)], 'expired', 'duplicate window passed', T0);
      ob.markCommitted([{ correlationId: id(1), stream: 'CMD', seq: 5 }], T0 + 1);
      expect(ob.get(id(1))).toMatchObject({ state: 'committed', streamSeq: 5 });
    });

    it('markRetry returns in-flight rows to pending-commit with the error, nothing else', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(2), newRow(3, { state: 'proposed' })]);
      ob.markInFlight([id(1), id(2)], T0 + 1);
      ob.markCommitted([{ correlationId: id(2), stream: 'CMD', seq: 1 }], T0 + 2);
      ob.markRetry([id(1), id(2), id(3)], 'no responders', T0 + 3);
      expect(ob.get(id(1))).toMatchObject({
        state: 'pending-commit',
        lastError: 'no responders',
        attempts: 1,
        updatedAtMs: T0 + 3,
      });
      expect(ob.get(id(2))).toMatchObject({ state: 'committed', lastError: null });
      expect(ob.get(id(3))).toMatchObject({ state: 'proposed', lastError: null });
    });

    it('markTerminal stores notices with the terminal mark, a duplicate ID ignored, without onAppended', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(2)]);
      const heard: string[] = [];
      ob.onAppended((rows) => heard.push(...rows.map((r) => r.correlationId)));
      const notice = newRow(90, { subject: 'root.solar.deadletter.command' });
      expect(ob.markTerminal([id(1)], 'dead', 'refused', T0 + 1, new Map([[id(1), notice]]))).toEqual([id(1)]);
      ob.markTerminal([id(2)], 'dead', 'refused', T0 + 2, new Map([[id(2), { ...notice, subject: 'other' }]]));
      expect(ob.get(id(1))).toMatchObject({ state: 'dead', reason: 'refused' });
      expect(ob.get(id(90))).toMatchObject({
        state: 'pending-commit',
        subject: 'root.solar.deadletter.command',
        attempts: 0,
      });
      expect(ob.get(id(90))!.seq).toBeGreaterThan(ob.get(id(2))!.seq);
      expect(ob.listPublishable(10).map((r) => r.correlationId)).toEqual([id(90)]);
      expect(heard).toEqual([]);
      // A row committed meanwhile (a peer's commit) does not go dead, and gets no notice.
      await ob.append([newRow(3)]);
      ob.markCommitted([{ correlationId: id(3), stream: 'CMD', seq: 3 }], T0);
      await ob.append([newRow(4)]);
      const moved = ob.markTerminal(
        [id(3), id(4)],
        'dead',
        'refused',
        T0 + 3,
        new Map([
          [id(3), newRow(91)],
          [id(4), newRow(92)],
        ]),
      );
      expect(moved).toEqual([id(4)]);
      expect(ob.get(id(3))?.state).toBe('committed');
      expect(ob.get(id(91))).toBeUndefined();
      expect(ob.get(id(92))?.state).toBe('pending-commit');
    });

    it('markTerminal sets the state and reason, never on committed rows', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(2), newRow(3, { state: 'proposed' })]);
      ob.markCommitted([{ correlationId: id(2), stream: 'CMD', seq: 1 }], T0);
      ob.markTerminal([id(1), id(2)], 'dead', 'payload too large', T0 + 1);
      ob.markTerminal([id(3)], 'rejected', 'vetoed', T0 + 1);
      expect(ob.get(id(1))).toMatchObject({ state: 'dead', reason: 'payload too large' });
      expect(ob.get(id(2))).toMatchObject({ state: 'committed', reason: null });
      expect(ob.get(id(3))).toMatchObject({ state: 'rejected', reason: 'vetoed' });
      ob.markTerminal([], 'dead', 'x', T0);
      ob.markInFlight([], T0);
      ob.markRetry([], 'x', T0);
      ob.markCommitted([], T0);
    });

    it('pruneSettled deletes only old committed, expired and rejected rows, oldest first, to the limit', async () => {
      const ob = await make();
      await ob.append(range(1, 9).map((n) => newRow(n)));
      await ob.append([newRow(10, { state: 'proposed' }), newRow(11, { state: 'proposed' })]);
      ob.markCommitted(
        [1, 2, 3].map((n) => ({ correlationId: id(n), stream: 'CMD', seq: n })),
        T0 + 100,
      );
      ob.markCommitted([{ correlationId: id(4), stream: 'CMD', seq: 4 }], T0 + 500); // young
      ob.markCommitted([{ correlationId: id(5), stream: 'CMD', seq: 5 }], T0 + 100); // old, behind a young one
      ob.markTerminal([id(6)], 'dead', 'refused', T0 + 100);
      ob.markInFlight([id(7)], T0 + 100);
      ob.markTerminal([id(10)], 'expired', 'ttl', T0 + 100);
      ob.markTerminal([id(11)], 'rejected', 'vetoed', T0 + 100);

      expect(ob.pruneSettled(T0 + 200, 0)).toBe(0);
      expect(ob.pruneSettled(T0 + 200, 2)).toBe(2);
      expect(ob.get(id(1))).toBeUndefined();
      expect(ob.get(id(2))).toBeUndefined();
      expect(ob.get(id(3))?.state).toBe('committed');
      // Row 5 waits behind row 4, which is not old enough yet.
      expect(ob.pruneSettled(T0 + 200, 100)).toBe(3);
      expect(range(1, 11).filter((n) => ob.get(id(n)) !== undefined)).toEqual([4, 5, 6, 7, 8, 9]);
      expect(ob.pruneSettled(T0 + 200, 100)).toBe(0);
      expect(ob.pruneSettled(T0 + 501, 100)).toBe(2);
      // Dead, in-flight and pending rows are never pruned, however old.
      expect(ob.pruneSettled(T0 + 1e9, 100)).toBe(0);
      expect(range(1, 11).filter((n) => ob.get(id(n)) !== undefined)).toEqual([6, 7, 8, 9]);
      expect(ob.counts()).toMatchObject({
        committed: 0,
        dead: 1,
        'in-flight': 1,
        'pending-commit': 2,
        expired: 0,
        rejected: 0,
      });
      // A pruned ID can't be reused to sneak in below the cursor: seqs keep growing.
      await ob.append([newRow(12)]);
      expect(ob.listPublishable(10).map((r) => r.correlationId)).toEqual([id(8), id(9), id(12)]);
      expect(ob.get(id(12))!.seq).toBeGreaterThan(ob.get(id(9))!.seq);
    });

    it('promote moves only a proposed row, replacing its body and headers', async () => {
      const ob = await make();
      await ob.append([
        newRow(1, { state: 'proposed' }),
        newRow(2),
        newRow(3, { state: 'proposed' }),
        newRow(4, { state: 'proposed' }),
      ]);
      const body = new TextEncoder().encode(JSON.stringify({ n: 1, endorsements: [{ peerId: 'p', signature: 's' }] }));
      const headers = { 'Net-Sync-Correlation-Id': id(1), 'Net-Sync-Endorsers': 'p' };
      expect(ob.promote(id(1), body, headers, T0 + 5)).toBe(true);
      const got = ob.get(id(1))!;
      expect(got).toMatchObject({ state: 'pending-commit', headers, updatedAtMs: T0 + 5, attempts: 0 });
      expect(new TextDecoder().decode(got.body)).toBe(new TextDecoder().decode(body));
      expect(ob.promote(id(1), new Uint8Array([1]), {}, T0 + 6)).toBe(false);
      expect(ob.get(id(1))!.headers).toEqual(headers);
      expect(ob.promote(id(2), body, headers, T0 + 6)).toBe(false);
      expect(ob.get(id(2))!.headers).toEqual(newRow(2).headers);
      ob.markTerminal([id(3)], 'expired', 'ttl', T0);
      expect(ob.promote(id(3), body, headers, T0 + 6)).toBe(false);
      expect(ob.get(id(3))!.state).toBe('expired');
      expect(ob.promote('missing', body, headers, T0 + 6)).toBe(false);
      expect(ob.promote(id(4), body, headers, T0 + 7, 'in-flight')).toBe(true);
      expect(ob.get(id(4))).toMatchObject({ state: 'in-flight', attempts: 0, firstAttemptAtMs: null });
      expect(ob.listByState(['in-flight'], 10).map((r) => r.correlationId)).toEqual([id(4)]);
    });

    it('counts every state, for all rows or one kind', async () => {
      const ob = await make();
      await ob.append([newRow(1), newRow(2), newRow(3, { kind: 'telemetry' }), newRow(4, { state: 'proposed' })]);
      ob.markInFlight([id(2)], T0);
      expect(ob.counts()).toEqual({
        proposed: 1,
        'pending-commit': 2,
        'in-flight': 1,
        committed: 0,
        expired: 0,
        rejected: 0,
        dead: 0,
      });
      expect(ob.counts('telemetry')['pending-commit']).toBe(1);
      expect(ob.counts('command')['pending-commit']).toBe(1);
    });

    it('reports the oldest open row creation time', async () => {
      const ob = await make();
      expect(ob.oldestPendingCreatedAtMs()).toBeNull();
      await ob.append([newRow(5, { createdAtMs: T0 + 50 }), newRow(6, { createdAtMs: T0 + 20 }), newRow(7)]);
      expect(ob.oldestPendingCreatedAtMs()).toBe(T0 + 7);
      ob.markCommitted([{ correlationId: id(7), stream: 'CMD', seq: 1 }], T0);
      expect(ob.oldestPendingCreatedAtMs()).toBe(T0 + 20);
      ob.markTerminal([id(6)], 'dead', 'x', T0);
      expect(ob.oldestPendingCreatedAtMs()).toBe(T0 + 50);
    });

    it('reports the oldest open row creation time per kind', async () => {
      const ob = await make();
      await ob.append([newRow(8, { createdAtMs: T0 + 30, kind: 'telemetry' }), newRow(9, { createdAtMs: T0 + 40 })]);
      expect(ob.oldestPendingCreatedAtMs('telemetry')).toBe(T0 + 30);
      expect(ob.oldestPendingCreatedAtMs('command')).toBe(T0 + 40);
      ob.markCommitted([{ correlationId: id(8), stream: 'TEL', seq: 1 }], T0);
      expect(ob.oldestPendingCreatedAtMs('telemetry')).toBeNull();
      expect(ob.oldestPendingCreatedAtMs()).toBe(T0 + 40);
    });

    it('drops the oldest open telemetry past the cap, never commands', async () => {
      const ob = await make({ telemetryCap: 3 });
      const tel = (n: number): NewOutboxRow => newRow(n, { kind: 'telemetry' as RowKind });
      await ob.append([tel(1), newRow(2)]);
      ob.markCommitted([{ correlationId: id(1), stream: 'TEL', seq: 1 }], T0);
      await ob.append([tel(3), tel(4), newRow(5), tel(6), tel(7), tel(8)]);
      expect(ob.get(id(1))?.state).toBe('committed');
      expect(ob.get(id(3))).toBeUndefined();
      expect(ob.get(id(4))).toBeUndefined();
      expect(ob.counts('telemetry')['pending-commit']).toBe(3);
      expect(ob.counts('command')['pending-commit']).toBe(2);
      const f = fixtures[fixtures.length - 1]!;
      expect(f.dropped()).toBe(2);
    });

    it('never drops in-flight telemetry to honour the cap: it may already be in the stream', async () => {
      const ob = await make({ telemetryCap: 2 });
      const tel = (n: number): NewOutboxRow => newRow(n, { kind: 'telemetry' as RowKind });
      await ob.append([tel(1), tel(2)]);
      ob.markInFlight([id(1), id(2)], T0);
      const heard: string[] = [];
      ob.onAppended((rows) => heard.push(...rows.map((r) => r.correlationId)));
      await ob.append([tel(3), tel(4), newRow(5)]);
      // Rows the cap deleted in the append's own transaction are not handed out.
      expect(heard).toEqual([id(5)]);
      expect(ob.get(id(1))?.state).toBe('in-flight');
      expect(ob.get(id(2))?.state).toBe('in-flight');
      expect(ob.get(id(3))).toBeUndefined();
      expect(ob.get(id(4))).toBeUndefined();
      const f = fixtures[fixtures.length - 1]!;
      expect(f.dropped()).toBe(2);
    });

    it('grants the publisher lease to one owner at a time', async () => {
      const ob = await make();
      expect(ob.leaseHolder(T0)).toBeNull();
      expect(ob.tryLease('sidecar', 1_000, T0)).toBe(true);
      expect(ob.tryLease('reconcile', 1_000, T0 + 500)).toBe(false);
      expect(ob.tryLease('sidecar', 1_000, T0 + 500)).toBe(true);
      expect(ob.leaseHolder(T0 + 600)).toEqual({ owner: 'sidecar', expiresAtMs: T0 + 1_500 });
      ob.releaseLease('reconcile');
      expect(ob.leaseHolder(T0 + 600)?.owner).toBe('sidecar');
      expect(ob.leaseHolder(T0 + 1_500)).toBeNull();
      expect(ob.tryLease('reconcile', 1_000, T0 + 1_500)).toBe(true);
      ob.releaseLease('reconcile');
      expect(ob.leaseHolder(T0 + 1_600)).toBeNull();
      expect(ob.tryLease('sidecar', 1_000, T0 + 1_600)).toBe(true);
    });
  });
}
