/**
 * Federation's ledgers on SQLite, in the outbox file (migration 3), on the outbox's own
 * connection: the events received from partners (`federation_received`) and the receipts
 * applied to our events (`federation_acks`).
 */
import type { Database, Statement } from 'better-sqlite3';
import type {
  AppliedAck,
  AppliedAcks,
  ReceivedEvent,
  ReceivedEvents,
  ReceivedState,
} from '../core/federation-receipt.js';
import type { FederationReason } from '../core/federation-trust.js';
import { type SynchronousLevel, withDurability } from './open-database.js';
import { toOutboxError } from './outbox-error.js';

interface ReceivedRow {
  partner: string;
  event_id: string;
  digest: string;
  msg_id: string;
  stream: string;
  stream_seq: number;
  state: ReceivedState;
  received_at_ms: number;
}

interface AckRow {
  event_id: string;
  partner: string;
  status: 'accepted' | 'rejected';
  reason: string | null;
  signers: string;
  ack_msg_id: string;
  applied_at_ms: number;
}

function received(r: ReceivedRow): ReceivedEvent {
  return {
    partner: r.partner,
    eventId: r.event_id,
    digest: r.digest,
    msgId: r.msg_id,
    stream: r.stream,
    streamSeq: r.stream_seq,
    state: r.state,
    receivedAtMs: r.received_at_ms,
  };
}

function applied(r: AckRow): AppliedAck {
  return {
    eventId: r.event_id,
    partner: r.partner,
    status: r.status,
    ...(r.reason === null ? {} : { reason: r.reason as FederationReason }),
    signers: JSON.parse(r.signers) as string[],
    ackMsgId: r.ack_msg_id,
    appliedAtMs: r.applied_at_ms,
  };
}

function io<T>(op: Parameters<typeof toOutboxError>[0], fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toOutboxError(op, err);
  }
}

/** {@link ReceivedEvents} over the outbox's database handle. Records are written at the outbox's durability. */
export class SqliteReceivedEvents implements ReceivedEvents {
  private readonly getStmt: Statement<[string, string], ReceivedRow>;
  private readonly digestStmt: Statement<[string, string], ReceivedRow>;
  private readonly insert: Statement;
  private readonly settleStmt: Statement;
  private readonly countStmt: Statement<[], { partner: string; n: number }>;

  constructor(
    private readonly db: Database,
    private readonly synchronous: SynchronousLevel = 'FULL',
  ) {
    this.getStmt = db.prepare('SELECT * FROM federation_received WHERE partner = ? AND event_id = ?');
    this.digestStmt = db.prepare('SELECT * FROM federation_received WHERE partner = ? AND digest = ? LIMIT 1');
    this.insert = db.prepare(
      `INSERT INTO federation_received (partner, event_id, digest, msg_id, stream, stream_seq, state, received_at_ms)
       VALUES (@partner, @eventId, @digest, @msgId, @stream, @streamSeq, @state, @receivedAtMs)
       ON CONFLICT (partner, event_id) DO NOTHING`,
    );
    this.settleStmt = db.prepare(
      'UPDATE federation_received SET state = ?, settled_at_ms = ? WHERE partner = ? AND event_id = ?',
    );
    this.countStmt = db.prepare('SELECT partner, count(*) AS n FROM federation_received GROUP BY partner');
  }

  get(partner: string, eventId: string): ReceivedEvent | undefined {
    const r = io('read', () => this.getStmt.get(partner, eventId));
    return r === undefined ? undefined : received(r);
  }

  byDigest(partner: string, digest: string): ReceivedEvent | undefined {
    const r = io('read', () => this.digestStmt.get(partner, digest));
    return r === undefined ? undefined : received(r);
  }

  record(e: ReceivedEvent): void {
    io('write', () => withDurability(this.db, this.synchronous, true, () => this.insert.run(e)));
  }

  recordMany(events: readonly ReceivedEvent[], opts: { durable?: boolean } = {}): void {
    if (events.length === 0) return;
    io('write', () =>
      withDurability(this.db, this.synchronous, opts.durable ?? true, () =>
        this.db.transaction(() => {
          for (const e of events) this.insert.run(e);
        })(),
      ),
    );
  }

  settleMany(
    items: ReadonlyArray<{ partner: string; eventId: string; state: ReceivedState }>,
    opts: { durable?: boolean } = {},
  ): void {
    if (items.length === 0) return;
    const now = Date.now();
    io('write', () =>
      withDurability(this.db, this.synchronous, opts.durable ?? true, () =>
        this.db.transaction(() => {
          for (const i of items) this.settleStmt.run(i.state, now, i.partner, i.eventId);
        })(),
      ),
    );
  }

  settle(partner: string, eventId: string, state: ReceivedState): void {
    // Durable: a delivered mark lost to a crash would push the event to the agent again.
    io('write', () =>
      withDurability(this.db, this.synchronous, true, () => this.settleStmt.run(state, Date.now(), partner, eventId)),
    );
  }

  countByPartner(): Map<string, number> {
    return new Map(io('read', () => this.countStmt.all()).map((r) => [r.partner, r.n]));
  }
}

/** {@link AppliedAcks} over the outbox's database handle. */
export class SqliteAppliedAcks implements AppliedAcks {
  private readonly amongStmt: Statement<[string]>;
  private readonly getStmt: Statement<[string], AckRow>;
  private readonly insert: Statement;
  private readonly listAll: Statement<[], AckRow>;
  private readonly listPartner: Statement<[string], AckRow>;

  constructor(
    private readonly db: Database,
    private readonly synchronous: SynchronousLevel = 'FULL',
  ) {
    this.getStmt = db.prepare('SELECT * FROM federation_acks WHERE event_id = ?');
    this.amongStmt = db
      .prepare('SELECT event_id FROM federation_acks WHERE event_id IN (SELECT value FROM json_each(?))')
      .pluck();
    this.insert = db.prepare(
      `INSERT INTO federation_acks (event_id, partner, status, reason, signers, ack_msg_id, applied_at_ms)
       VALUES (@eventId, @partner, @status, @reason, @signers, @ackMsgId, @appliedAtMs)
       ON CONFLICT (event_id) DO NOTHING`,
    );
    this.listAll = db.prepare('SELECT * FROM federation_acks ORDER BY applied_at_ms');
    this.listPartner = db.prepare('SELECT * FROM federation_acks WHERE partner = ? ORDER BY applied_at_ms');
  }

  get(eventId: string): AppliedAck | undefined {
    const r = io('read', () => this.getStmt.get(eventId));
    return r === undefined ? undefined : applied(r);
  }

  appliedAmong(eventIds: readonly string[]): Set<string> {
    if (eventIds.length === 0) return new Set();
    return new Set(io('read', () => this.amongStmt.all(JSON.stringify(eventIds)) as string[]));
  }

  apply(a: AppliedAck): boolean {
    const row = { ...a, reason: a.reason ?? null, signers: JSON.stringify(a.signers) };
    return io('write', () => withDurability(this.db, this.synchronous, true, () => this.insert.run(row).changes > 0));
  }

  applyMany(list: readonly AppliedAck[]): boolean[] {
    if (list.length === 0) return [];
    const rows = list.map((a) => ({ ...a, reason: a.reason ?? null, signers: JSON.stringify(a.signers) }));
    return io('write', () =>
      withDurability(this.db, this.synchronous, true, () =>
        this.db.transaction(() => rows.map((row) => this.insert.run(row).changes > 0))(),
      ),
    );
  }

  list(partner?: string): AppliedAck[] {
    return io('read', () => (partner === undefined ? this.listAll.all() : this.listPartner.all(partner))).map(applied);
  }
}
