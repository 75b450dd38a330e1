/**
 * The `Outbox` port on one SQLite file. Appends are group-committed; every state change is
 * a guarded UPDATE so a sidecar and a `net-sync reconcile` on the same file stay consistent.
 */
import { closeSync, fsync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Database } from 'better-sqlite3';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { NetSyncError } from '../core/errors.js';
import { INTENT_STATES, type IntentState, type NewOutboxRow, type OutboxRow, type RowKind } from '../core/intent.js';
import type { AppendClaim, ClaimRequest, CommitEntry, Outbox, PromoteItem, StateCounts } from '../core/ports.js';
import { createBufferMetrics, type BufferMetrics } from './metrics.js';
import { migrate } from './migrations.js';
import { openDatabase, restrictSideFiles, type SynchronousLevel, withDurability } from './open-database.js';
import { OutboxAppender } from './outbox-appender.js';
import { type Located, OutboxLog } from './outbox-log.js';
import { pruneSettled } from './outbox-prune.js';
import { listByState, oldestOpenCreatedAtMs, resolveIds } from './outbox-reads.js';
import { corruptFileError, toOutboxError } from './outbox-error.js';
import { prepareOutboxStatements, type OutboxStatements } from './outbox-statements.js';
import { decodeRow, type LogKey, type LogRecord } from './row-codec.js';

/** Options of {@link SqliteOutbox.open}. Mirrors `BufferConfig` plus injected parts. */
export interface SqliteOutboxOptions {
  /** SQLite file, created with mode 0600 when missing. */
  path: string;
  /** `PRAGMA synchronous`. Default FULL: an accepted intent survives power loss. */
  synchronous?: SynchronousLevel;
  /** Soft cap on rows per group-commit transaction. Default 1,000. */
  groupCommitMaxRows?: number;
  /**
   * Appends fsync off the event loop (at `synchronous=FULL` only): each group-commit transaction
   * commits without its fsync, then the WAL is fsync'd on libuv's thread pool, and the append
   * resolves (and its rows are handed to listeners) only after that. Same durability for what an
   * append acknowledges; the event loop no longer waits out the fsync. Default false.
   */
  fsyncOffLoop?: boolean;
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
  private readonly logger: Logger;
  private readonly path: string;
  private readonly synchronous: SynchronousLevel;
  private readonly appender: OutboxAppender;
  private readonly log: OutboxLog;
  private closing: Promise<void> | undefined;

  private constructor(db: Database, opts: SqliteOutboxOptions) {
    this.db = db;
    this.path = opts.path;
    this.synchronous = opts.synchronous ?? 'FULL';
    this.sql = prepareOutboxStatements(db);
    this.logger = opts.logger ?? pino({ level: 'silent' });
    this.log = new OutboxLog(db, this.sql);
    this.appender = new OutboxAppender({
      db,
      sql: this.sql,
      outboxLog: this.log,
      log: this.logger,
      metrics: opts.metrics ?? createBufferMetrics(new Registry()),
      telemetryCap: opts.telemetryCap ?? 100_000,
      groupCommitMaxRows: opts.groupCommitMaxRows ?? 1_000,
      ...(opts.fsyncOffLoop === true && this.synchronous === 'FULL' && opts.path !== ':memory:'
        ? { offLoopSync: { relaxed: (fn) => this.withDurability(false, fn), sync: () => this.syncWal() } }
        : {}),
    });
  }

  /** The `-wal` file, opened at the first off-loop sync and kept (SQLite keeps it while we are open). */
  private walFd: number | null = null;

  // fsync of the `-wal` file on the thread pool: makes every transaction committed so far durable,
  // as `synchronous=FULL` would have at each COMMIT. One thread-pool round trip (one loop turn) per
  // sync: the file and, the first time, its directory are opened and synced once.
  private syncWal(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        if (this.walFd === null) {
          const dirFd = openSync(dirname(this.path), 'r');
          try {
            fsyncSync(dirFd);
          } finally {
            closeSync(dirFd);
          }
          this.walFd = openSync(`${this.path}-wal`, 'r');
        }
      } catch (err) {
        reject(toOutboxError('append', err));
        return;
      }
      fsync(this.walFd, (err) => (err === null ? resolve() : reject(toOutboxError('append', err))));
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
      outbox.logger.info({ path: opts.path, schemaFrom: from, schemaTo: to }, 'outbox opened');
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
      // Appends written but not yet fsync'd are answered by their sync before the file closes.
      await this.appender.settled().catch(() => undefined);
      if (this.walFd !== null) closeSync(this.walFd);
      this.walFd = null;
    } finally {
      this.db.close();
      this.logger.info({ path: this.path }, 'outbox closed');
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
    // One read transaction: the row, its mark and its batches from one snapshot.
    return this.io('get', () =>
      this.db.transaction(() => {
        const r = this.sql.logById.get(correlationId) as LogRecord | undefined;
        return r === undefined ? undefined : decodeRow(r, this.log.derive([r])[0]!);
      })(),
    );
  }

  /** See {@link Outbox.listPublishable}. */
  listPublishable(limit: number, afterSeq = 0, includeInFlight = false): OutboxRow[] {
    const states: IntentState[] = includeInFlight ? ['pending-commit', 'in-flight'] : ['pending-commit'];
    return this.listByState(states, limit, afterSeq);
  }

  /**
   * See {@link Outbox.listByState}. Rows with a mark come from the marks' (state, seq) index; rows
   * without one are read from the log in seq order from the watermark (from `afterSeq` for
   * `committed`), their states derived. One read transaction, so the states come from one snapshot.
   */
  listByState(states: readonly IntentState[], limit: number, afterSeq = 0): OutboxRow[] {
    if (limit <= 0 || states.length === 0) return [];
    return this.io('list', () => this.db.transaction(() => listByState(this.sql, this.log, states, limit, afterSeq))());
  }

  // `ids` that exist, with their states, in the given order (each once).
  private locateIds(ids: readonly string[], seqs?: ReadonlyArray<number | undefined>): Located[] {
    return this.log.locate(resolveIds(this.sql, ids, seqs));
  }

  /** See {@link Outbox.markInFlight}. Only `pending-commit` and `in-flight` rows move. */
  markInFlight(correlationIds: readonly string[], atMs: number): void {
    if (correlationIds.length === 0) return;
    this.write('markInFlight', true, () => {
      const rows = this.locateIds(correlationIds).filter(
        (r) => r.st.state === 'pending-commit' || r.st.state === 'in-flight',
      );
      this.log.claim(rows, atMs);
    });
  }

  /** See {@link Outbox.claim}. One IMMEDIATE transaction, so one fsync at `synchronous=FULL`. */
  claim(req: ClaimRequest): readonly string[] | null {
    return this.write('claim', true, () => {
      if (req.committed.length > 0) this.commitNow(req.committed, req.atMs);
      if (req.lease !== undefined) {
        const lease = { owner: req.lease.owner, expires: req.atMs + req.lease.ttlMs, now: req.atMs };
        if (this.sql.tryLease.run(lease).changes !== 1) return null;
      }
      if (req.ids.length === 0) return [];
      const pending = this.locateIds(req.ids, req.seqs).filter((r) => r.st.state === 'pending-commit');
      this.log.claim(pending, req.atMs);
      const moved = new Set(pending.map((r) => r.rec.correlation_id));
      return moved.size === req.ids.length ? req.ids : req.ids.filter((id) => moved.has(id));
    });
  }

  /**
   * See {@link Outbox.markCommitted}. A committed row keeps its first location. Rows without a
   * mark are recorded as one batch record per stream. With `durable: false`,
   * `synchronous=NORMAL` for this transaction only (in WAL, the next durable commit's fsync
   * covers it): no fsync, which blocks the event loop ~0.8 ms.
   */
  markCommitted(entries: ReadonlyArray<CommitEntry>, atMs: number, opts: { durable?: boolean } = {}): void {
    if (entries.length === 0) return;
    this.write('markCommitted', opts.durable !== false, () => this.commitNow(entries, atMs));
  }

  private commitNow(entries: ReadonlyArray<CommitEntry>, atMs: number): void {
    const rows = this.locateIds(
      entries.map((e) => e.correlationId),
      entries.map((e) => e.rowSeq),
    );
    const where = new Map(entries.map((e) => [e.correlationId, e] as const));
    const items = rows.flatMap((r) => {
      const e = where.get(r.rec.correlation_id);
      return e === undefined ? [] : [{ ...r, stream: e.stream, streamSeq: e.seq }];
    });
    this.log.commit(items, atMs);
  }

  /** See {@link Outbox.markRetry}. Only `in-flight` and `pending-commit` rows move. */
  markRetry(correlationIds: readonly string[], error: string, atMs: number): void {
    if (correlationIds.length === 0) return;
    this.write('markRetry', true, () => {
      for (const r of this.locateIds(correlationIds)) {
        if (r.st.state !== 'in-flight' && r.st.state !== 'pending-commit') continue;
        this.log.setMark(r, { ...r.st, state: 'pending-commit', lastError: error, updatedAtMs: atMs });
      }
    });
  }

  /** See {@link Outbox.promoteMany}. One transaction; fsync'd unless `opts.durable === false`. */
  promoteMany(items: readonly PromoteItem[], atMs: number, opts: { durable?: boolean } = {}): string[] {
    if (items.length === 0) return [];
    return this.write('promote', opts.durable !== false, () =>
      items.filter((i) => this.promoteNow(i, atMs)).map((i) => i.correlationId),
    );
  }

  private promoteNow(i: PromoteItem, atMs: number): boolean {
    const k = this.sql.keyById.get(i.correlationId) as LogKey | undefined;
    if (k === undefined) return false;
    if (this.sql.promoteMark.run({ seq: k.seq, target: i.target, at: atMs }).changes !== 1) return false;
    const body = Buffer.from(i.body.buffer, i.body.byteOffset, i.body.byteLength);
    this.sql.replaceBody.run({ seq: k.seq, body, headers: JSON.stringify(i.headers) });
    this.log.bump(k.kind, 'proposed', i.target);
    return true;
  }

  /** See {@link Outbox.promote}. */
  promote(
    correlationId: string,
    body: Uint8Array,
    headers: Record<string, string>,
    atMs: number,
    target: 'pending-commit' | 'in-flight' = 'pending-commit',
  ): boolean {
    return this.write('promote', true, () => this.promoteNow({ correlationId, body, headers, target }, atMs));
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
    return this.write('markTerminal', true, () => {
      const moved: string[] = [];
      for (const r of this.locateIds(correlationIds)) {
        if (r.st.state === 'committed') continue;
        this.log.setMark(r, { ...r.st, state, reason, updatedAtMs: atMs });
        moved.push(r.rec.correlation_id);
      }
      for (const id of moved) {
        const notice = notices.get(id);
        if (notice !== undefined) this.log.insert(notice, null);
      }
      this.log.advanceWatermark();
      const order = new Set(moved);
      return correlationIds.filter((id) => order.has(id));
    });
  }

  /** See {@link Outbox.pruneSettled}. One IMMEDIATE transaction, not fsync'd. */
  pruneSettled(beforeMs: number, limit: number): number {
    if (limit <= 0) return 0;
    return this.write('prune', false, () => pruneSettled(this.sql, this.log, beforeMs, limit));
  }

  /** See {@link Outbox.counts}: kept by every transaction in `outbox_counts`, so one small read. */
  counts(kind?: RowKind): StateCounts {
    const rows = this.io(
      'counts',
      () =>
        (kind === undefined ? this.sql.counts.all() : this.sql.countsByKind.all(kind)) as Array<{
          state: IntentState;
          n: number;
        }>,
    );
    const out = Object.fromEntries(INTENT_STATES.map((s) => [s, 0])) as StateCounts;
    for (const r of rows) out[r.state] = r.n;
    return out;
  }

  /**
   * See {@link Outbox.oldestPendingCreatedAtMs}: the open marks on their index, and the rows
   * without a mark from the watermark on (the open tail of the log).
   */
  oldestPendingCreatedAtMs(kind?: RowKind): number | null {
    return this.io('oldestPending', () => this.db.transaction(() => oldestOpenCreatedAtMs(this.sql, this.log, kind))());
  }

  /**
   * See {@link Outbox.tryLease}. Atomic across processes (one UPSERT). Not fsync'd: the committer
   * renews every round, and an fsync each time cost a fifth of the sidecar's CPU under HTTP load
   * (docs/benchmarks.md). Mutual exclusion needs SQLite's lock, not durability: a renewal lost to
   * a power cut only makes the lease look older, and its holder died in that cut too.
   */
  tryLease(owner: string, ttlMs: number, nowMs: number): boolean {
    const params = { owner, expires: nowMs + ttlMs, now: nowMs };
    return this.io('tryLease', () => this.withDurability(false, () => this.sql.tryLease.run(params).changes === 1));
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

  // Runs `fn` at `synchronous=NORMAL` when not `durable` (see markCommitted), else as configured.
  private withDurability<T>(durable: boolean, fn: () => T): T {
    return withDurability(this.db, this.synchronous, durable, fn);
  }

  // One IMMEDIATE transaction writing the counts it bumped; `durable: false` skips its fsync.
  private write<T>(op: string, durable: boolean, fn: () => T): T {
    return this.io(op, () =>
      this.withDurability(durable, () => {
        const tx = this.db.transaction(() => {
          const out = fn();
          this.log.flush();
          return out;
        });
        try {
          return tx.immediate();
        } catch (err) {
          this.log.discard();
          throw err;
        }
      }),
    );
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
