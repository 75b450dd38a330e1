/**
 * The `Outbox` port on one SQLite file. Appends are group-committed; every state change is
 * a guarded UPDATE so a sidecar and a `net-sync reconcile` on the same file stay consistent.
 */
import type { Database, Statement } from 'better-sqlite3';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { NetSyncError } from '../core/errors.js';
import {
  INTENT_STATES,
  PRUNABLE_STATES,
  type IntentState,
  type NewOutboxRow,
  type OutboxRow,
  type RowKind,
  type StreamLocation,
} from '../core/intent.js';
import type { AppendClaim, ClaimRequest, Outbox, PromoteItem, StateCounts } from '../core/ports.js';
import { createBufferMetrics, type BufferMetrics } from './metrics.js';
import { migrate } from './migrations.js';
import { openDatabase, restrictSideFiles, type SynchronousLevel, withDurability } from './open-database.js';
import { OutboxAppender } from './outbox-appender.js';
import { corruptFileError, toOutboxError } from './outbox-error.js';
import { prepareOutboxStatements, type OutboxStatements } from './outbox-statements.js';
import { decodeRow, encodeRow, type OutboxRecord } from './row-codec.js';

/** Options of {@link SqliteOutbox.open}. Mirrors `BufferConfig` plus injected parts. */
export interface SqliteOutboxOptions {
  /** SQLite file, created with mode 0600 when missing. */
  path: string;
  /** `PRAGMA synchronous`. Default FULL: an accepted intent survives power loss. */
  synchronous?: SynchronousLevel;
  /** Soft cap on rows per group-commit transaction. Default 1,000. */
  groupCommitMaxRows?: number;
  /** Cap on buffered (open) telemetry rows; past it the oldest unsent ones are dropped. Default 100,000. */
  telemetryCap?: number;
  /** How long a write waits for another process's lock, in ms. Default 5,000. */
  busyTimeoutMs?: number;
  /** Default: silent. */
  logger?: Logger;
  /** Default: registered on a private registry. */
  metrics?: BufferMetrics;
}

/** The durable outbox on SQLite. Create with {@link SqliteOutbox.open}; end with `close()`. */
export class SqliteOutbox implements Outbox {
  private readonly db: Database;
  private readonly sql: OutboxStatements;
  private readonly log: Logger;
  private readonly path: string;
  private readonly synchronous: SynchronousLevel;
  private readonly appender: OutboxAppender;
  private closing: Promise<void> | undefined;

  private constructor(db: Database, opts: SqliteOutboxOptions) {
    this.db = db;
    this.path = opts.path;
    this.synchronous = opts.synchronous ?? 'FULL';
    this.sql = prepareOutboxStatements(db);
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.appender = new OutboxAppender({
      db,
      sql: this.sql,
      log: this.log,
      metrics: opts.metrics ?? createBufferMetrics(new Registry()),
      telemetryCap: opts.telemetryCap ?? 100_000,
      groupCommitMaxRows: opts.groupCommitMaxRows ?? 1_000,
    });
  }

  /**
   * Opens (creating and migrating when needed) the outbox at `opts.path`.
   * Throws OUTBOX_IO when the file cannot be opened, OUTBOX_SCHEMA when it is newer than
   * this code.
   */
  static open(opts: SqliteOutboxOptions): SqliteOutbox {
    let db: Database;
    try {
      db = openDatabase({
        path: opts.path,
        synchronous: opts.synchronous ?? 'FULL',
        busyTimeoutMs: opts.busyTimeoutMs ?? 5_000,
      });
    } catch (err) {
      throw corruptFileError(opts.path, err) ?? err;
    }
    try {
      // A damaged file is refused at start, naming it, instead of failing every accept later.
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok')
        throw new NetSyncError('CONFIG_INVALID', `buffer.path: ${opts.path} is corrupt (${String(check)})`, {
          field: 'buffer.path',
        });
      const { from, to } = migrate(db);
      restrictSideFiles(opts.path);
      const outbox = new SqliteOutbox(db, opts);
      outbox.log.info({ path: opts.path, schemaFrom: from, schemaTo: to }, 'outbox opened');
      return outbox;
    } catch (err) {
      db.close();
      throw corruptFileError(opts.path, err) ?? toOutboxError('open', err);
    }
  }

  private lastWriteError: string | null = null;

  /** The underlying connection, for diagnostics and tests (pragmas, raw reads). */
  get database(): Database {
    return this.db;
  }

  /** Telemetry rows dropped by this instance to stay under the cap. */
  get droppedTelemetryTotal(): number {
    return this.appender.droppedTelemetryTotal;
  }

  /**
   * Writes every queued append, then closes the file. Safe to call twice (the second call
   * returns the first's promise). Appends after close reject with OUTBOX_IO.
   */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    try {
      this.appender.flushAll();
    } finally {
      this.db.close();
      this.log.info({ path: this.path }, 'outbox closed');
    }
  }

  /** See {@link Outbox.append}. */
  append(rows: NewOutboxRow[]): Promise<void> {
    if (this.closing !== undefined) {
      return Promise.reject(new NetSyncError('OUTBOX_IO', 'outbox append failed: outbox is closed'));
    }
    if (rows.length === 0) return Promise.resolve();
    return this.appender.append(rows).then(
      () => {
        this.lastWriteError = null;
      },
      (err: unknown) => {
        this.lastWriteError = err instanceof Error ? err.message : String(err);
        throw err;
      },
    );
  }

  /** The last write's error (append, claim, marks), or null once a write succeeded since. For readiness. */
  get writeError(): string | null {
    return this.lastWriteError;
  }

  /** See {@link Outbox.onAppended}. */
  onAppended(listener: (rows: readonly OutboxRow[]) => void): () => void {
    return this.appender.onAppended(listener);
  }

  /** See {@link Outbox.claimAppends}. */
  claimAppends(claim: AppendClaim | null): void {
    this.appender.claimAppends(claim);
  }

  /** See {@link Outbox.get}. */
  get(correlationId: string): OutboxRow | undefined {
    const r = this.io('get', () => this.sql.get.get(correlationId) as OutboxRecord | undefined);
    return r === undefined ? undefined : decodeRow(r);
  }

  /** See {@link Outbox.listPublishable}. */
  listPublishable(limit: number, afterSeq = 0, includeInFlight = false): OutboxRow[] {
    const states: IntentState[] = includeInFlight ? ['pending-commit', 'in-flight'] : ['pending-commit'];
    return this.listByState(states, limit, afterSeq);
  }

  /**
   * See {@link Outbox.listByState}. One indexed range scan per state, merged by seq, in a
   * single read transaction so the states come from one snapshot.
   */
  listByState(states: readonly IntentState[], limit: number, afterSeq = 0): OutboxRow[] {
    if (limit <= 0 || states.length === 0) return [];
    const unique = [...new Set(states)];
    const records = this.io('list', () =>
      this.db.transaction(() => unique.flatMap((st) => this.sql.byState.all(st, afterSeq, limit) as OutboxRecord[]))(),
    );
    if (unique.length > 1) records.sort((a, b) => a.seq - b.seq);
    return records.slice(0, limit).map(decodeRow);
  }

  /** See {@link Outbox.markInFlight}. Only `pending-commit` and `in-flight` rows move. One statement. */
  markInFlight(correlationIds: readonly string[], atMs: number): void {
    if (correlationIds.length === 0) return;
    this.io('markInFlight', () => this.sql.markInFlight.run({ ids: JSON.stringify(correlationIds), at: atMs }));
  }

  /** See {@link Outbox.claim}. One IMMEDIATE transaction, so one fsync at `synchronous=FULL`. */
  claim(req: ClaimRequest): readonly string[] | null {
    return this.io('claim', () => this.db.transaction(() => this.claimNow(req)).immediate());
  }

  private claimNow(req: ClaimRequest): readonly string[] | null {
    if (req.committed.length > 0) this.markCommittedNow(req.committed, req.atMs);
    if (req.lease !== undefined) {
      const lease = { owner: req.lease.owner, expires: req.atMs + req.lease.ttlMs, now: req.atMs };
      if (this.sql.tryLease.run(lease).changes !== 1) return null;
    }
    if (req.ids.length === 0) return [];
    try {
      // A savepoint: when a row is no longer pending-commit, undo and redo row by row to learn which.
      this.db.transaction(() => {
        const moved = this.sql.claim.run({ ids: JSON.stringify(req.ids), at: req.atMs }).changes;
        if (moved !== req.ids.length) throw CLAIM_MISMATCH;
      })();
      return req.ids;
    } catch (err) {
      if (err !== CLAIM_MISMATCH) throw err;
    }
    return req.ids.filter((id) => this.sql.claimOne.run({ id, at: req.atMs }).changes === 1);
  }

  /**
   * See {@link Outbox.markCommitted}. A committed row keeps its first stream location. One
   * statement. With `durable: false`, `synchronous=NORMAL` for this transaction only (in WAL,
   * the next durable commit's fsync covers it): no fsync, which blocks the event loop ~0.8 ms.
   */
  markCommitted(
    entries: ReadonlyArray<{ correlationId: string } & StreamLocation>,
    atMs: number,
    opts: { durable?: boolean } = {},
  ): void {
    if (entries.length === 0) return;
    this.io('markCommitted', () =>
      this.withDurability(opts.durable !== false, () => this.markCommittedNow(entries, atMs)),
    );
  }

  // Runs `fn` at `synchronous=NORMAL` when not `durable` (see markCommitted), else as configured.
  private withDurability<T>(durable: boolean, fn: () => T): T {
    return withDurability(this.db, this.synchronous, durable, fn);
  }

  private markCommittedNow(entries: ReadonlyArray<{ correlationId: string } & StreamLocation>, atMs: number): void {
    const rows = JSON.stringify(entries.map((e) => [e.correlationId, e.stream, e.seq]));
    this.sql.markCommitted.run({ rows, at: atMs });
  }

  /** See {@link Outbox.markRetry}. Only `in-flight` and `pending-commit` rows move. */
  markRetry(correlationIds: readonly string[], error: string, atMs: number): void {
    this.updateEach(
      'markRetry',
      this.sql.markRetry,
      correlationIds.map((id) => ({ id, error, at: atMs })),
    );
  }

  /** See {@link Outbox.promoteMany}. One transaction; fsync'd unless `opts.durable === false`. */
  promoteMany(items: readonly PromoteItem[], atMs: number, opts: { durable?: boolean } = {}): string[] {
    if (items.length === 0) return [];
    return this.io('promote', () =>
      this.withDurability(opts.durable !== false, () =>
        this.db.transaction(() =>
          items
            .filter(
              (i) =>
                this.sql.promote.run({
                  id: i.correlationId,
                  body: Buffer.from(i.body.buffer, i.body.byteOffset, i.body.byteLength),
                  headers: JSON.stringify(i.headers),
                  at: atMs,
                  target: i.target,
                }).changes === 1,
            )
            .map((i) => i.correlationId),
        )(),
      ),
    );
  }

  /** See {@link Outbox.promote}. */
  promote(
    correlationId: string,
    body: Uint8Array,
    headers: Record<string, string>,
    atMs: number,
    target: 'pending-commit' | 'in-flight' = 'pending-commit',
  ): boolean {
    const params = {
      id: correlationId,
      body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
      headers: JSON.stringify(headers),
      at: atMs,
      target,
    };
    return this.io('promote', () => this.sql.promote.run(params).changes === 1);
  }

  /** See {@link Outbox.markTerminal}. Committed rows never move. One transaction. */
  markTerminal(
    correlationIds: readonly string[],
    state: 'dead' | 'expired' | 'rejected',
    reason: string,
    atMs: number,
    notices: ReadonlyMap<string, NewOutboxRow> = new Map(),
  ): string[] {
    if (correlationIds.length === 0) return [];
    return this.io('markTerminal', () =>
      this.db
        .transaction(() => {
          const moved = correlationIds.filter(
            (id) => this.sql.markTerminal.run({ id, state, reason, at: atMs }).changes === 1,
          );
          for (const id of moved) {
            const notice = notices.get(id);
            if (notice !== undefined) this.sql.insert.run(encodeRow(notice));
          }
          return moved;
        })
        .immediate(),
    );
  }

  private updateEach(op: string, stmt: Statement, params: readonly object[]): void {
    if (params.length === 0) return;
    this.io(op, () =>
      this.db
        .transaction(() => {
          for (const p of params) stmt.run(p);
        })
        .immediate(),
    );
  }

  /** See {@link Outbox.pruneSettled}. One IMMEDIATE transaction, not fsync'd. */
  pruneSettled(beforeMs: number, limit: number): number {
    if (limit <= 0) return 0;
    return this.io('prune', () =>
      this.withDurability(false, () =>
        this.db
          .transaction(() => {
            let deleted = 0;
            for (const state of PRUNABLE_STATES) {
              if (deleted >= limit) break;
              const page = this.sql.settledPage.all(state, limit - deleted) as Array<{
                seq: number;
                updated_at_ms: number;
              }>;
              const end = page.findIndex((r) => r.updated_at_ms >= beforeMs);
              const old = (end < 0 ? page : page.slice(0, end)).map((r) => r.seq);
              if (old.length > 0) deleted += this.sql.deleteSeqs.run(JSON.stringify(old)).changes;
            }
            return deleted;
          })
          .immediate(),
      ),
    );
  }

  /** See {@link Outbox.counts}. */
  counts(kind?: RowKind): StateCounts {
    const rows = this.io(
      'counts',
      () =>
        (kind === undefined ? this.sql.countsAll.all() : this.sql.countsByKind.all(kind)) as Array<{
          state: IntentState;
          n: number;
        }>,
    );
    const out = Object.fromEntries(INTENT_STATES.map((s) => [s, 0])) as StateCounts;
    for (const r of rows) out[r.state] = r.n;
    return out;
  }

  /** See {@link Outbox.oldestPendingCreatedAtMs}. */
  oldestPendingCreatedAtMs(kind?: RowKind): number | null {
    return this.io(
      'oldestPending',
      () =>
        (
          (kind === undefined ? this.sql.oldestOpen.get() : this.sql.oldestOpenByKind.get(kind)) as {
            t: number | null;
          }
        ).t,
    );
  }

  /** See {@link Outbox.tryLease}. Atomic across processes (one UPSERT). */
  tryLease(owner: string, ttlMs: number, nowMs: number): boolean {
    const params = { owner, expires: nowMs + ttlMs, now: nowMs };
    return this.io('tryLease', () => this.sql.tryLease.run(params).changes === 1);
  }

  /** See {@link Outbox.releaseLease}. */
  releaseLease(owner: string): void {
    this.io('releaseLease', () => this.sql.releaseLease.run(owner));
  }

  /** See {@link Outbox.leaseHolder}. */
  leaseHolder(nowMs: number): { owner: string; expiresAtMs: number } | null {
    const r = this.io(
      'leaseHolder',
      () => this.sql.leaseHolder.get(nowMs) as { owner: string; expires_at_ms: number } | undefined,
    );
    return r === undefined ? null : { owner: r.owner, expiresAtMs: r.expires_at_ms };
  }

  private io<T>(op: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const e = toOutboxError(op, err);
      this.lastWriteError = e.message;
      throw e;
    }
  }
}

const CLAIM_MISMATCH = Symbol('claim mismatch');
