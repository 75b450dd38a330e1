/**
 * The append half of the SQLite outbox: group-committed inserts, the telemetry cap enforced
 * in the same transaction, metrics, and the listeners told which rows each append stored.
 */
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { NewOutboxRow, OutboxRow } from '../core/intent.js';
import type { AppendClaim } from '../core/ports.js';
import { GroupCommit } from './group-commit.js';
import type { BufferMetrics } from './metrics.js';
import { toOutboxError } from './outbox-error.js';
import type { OutboxLog } from './outbox-log.js';
import { dropOldestTelemetry } from './outbox-prune.js';
import type { OutboxStatements } from './outbox-statements.js';

/** What an {@link OutboxAppender} writes with. */
export interface OutboxAppenderOptions {
  db: Database;
  sql: OutboxStatements;
  /** The log's writer: inserts and the counts they bump. */
  outboxLog: OutboxLog;
  log: Logger;
  metrics: BufferMetrics;
  /** Cap on open telemetry rows; past it the oldest unsent ones are dropped in the same transaction. */
  telemetryCap: number;
  /** Soft cap on rows per group-commit transaction. */
  groupCommitMaxRows: number;
  /**
   * Off-loop durability: each transaction runs inside `relaxed` (no fsync at its COMMIT) and its
   * callers are answered, and listeners told, only after `sync` (an fsync of the WAL on libuv's
   * thread pool) has completed. Unset: every transaction is fsync'd at COMMIT, on the event loop.
   */
  offLoopSync?: { relaxed: <R>(fn: () => R) => R; sync: () => Promise<void> };
}

/** Appends rows in group-committed transactions. Owned by `SqliteOutbox`. */
export class OutboxAppender {
  /** Telemetry rows dropped to stay under the cap. */
  droppedTelemetryTotal = 0;
  private readonly opts: OutboxAppenderOptions;
  private readonly commits: GroupCommit<NewOutboxRow>;
  private readonly listeners = new Set<(rows: readonly OutboxRow[]) => void>();
  // Upper bound on open telemetry rows, so the exact count (from `outbox_counts`) and the
  // drop only run when the cap may be exceeded. Rows only leave the open set elsewhere, so
  // the bound holds as long as this instance is the only one appending telemetry (reconcile
  // never does); otherwise the cap is enforced late.
  private openTelemetryBound = Number.POSITIVE_INFINITY;
  private claim: AppendClaim | null = null;

  constructor(opts: OutboxAppenderOptions) {
    this.opts = opts;
    const off = opts.offLoopSync;
    this.commits = new GroupCommit({
      maxItems: opts.groupCommitMaxRows,
      write: off === undefined ? (rows) => this.writeBatch(rows) : (rows) => off.relaxed(() => this.writeBatch(rows)),
      ...(off === undefined ? {} : { sync: off.sync }),
    });
  }

  /** Queues `rows`; resolves once their transaction committed. */
  append(rows: NewOutboxRow[]): Promise<void> {
    return this.commits.enqueue(rows);
  }

  /** Writes everything queued, synchronously (before the file closes). */
  flushAll(): void {
    this.commits.flushAll();
  }

  /** Resolves once every written transaction is durable and its callers answered. */
  settled(): Promise<void> {
    return this.commits.settled();
  }

  /** See `Outbox.claimAppends`. */
  claimAppends(claim: AppendClaim | null): void {
    this.claim = claim;
  }

  /** See `Outbox.onAppended`. */
  onAppended(listener: (rows: readonly OutboxRow[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // Writes one transaction; returns what to do once it is durable (tell the listeners).
  private writeBatch(rows: NewOutboxRow[]): (() => void) | undefined {
    const { db, outboxLog, log, metrics } = this.opts;
    const started = process.hrtime.bigint();
    const stored = { command: 0, telemetry: 0 };
    let appended: OutboxRow[] | null = this.listeners.size > 0 ? [] : null;
    let dropped = new Set<number>();
    try {
      db.transaction(() => {
        const claim = this.claimFor(rows);
        let room = claim?.room ?? 0;
        for (const row of rows) {
          const claimed = room > 0 && row.state === 'pending-commit';
          const seq = outboxLog.insert(row, claimed ? claim!.at : null);
          if (seq === null) continue;
          stored[row.kind]++;
          if (claimed) room--;
          if (appended !== null) appended.push(storedRow(row, seq, claimed ? claim!.at : null));
        }
        if (stored.telemetry > 0) dropped = this.enforceTelemetryCap(stored.telemetry);
        outboxLog.flush();
      }).immediate();
      // Rows the cap deleted in this very transaction (in-flight rows filled it) are not handed out.
      if (dropped.size > 0 && appended !== null) appended = appended.filter((r) => !dropped.has(r.seq));
    } catch (err) {
      outboxLog.discard();
      log.error({ rows: rows.length, err }, 'outbox append failed');
      throw toOutboxError('append', err);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.groupCommitRows.observe(rows.length);
    metrics.groupCommitSeconds.observe(seconds);
    if (stored.command > 0) metrics.appendRowsTotal.inc({ kind: 'command' }, stored.command);
    if (stored.telemetry > 0) metrics.appendRowsTotal.inc({ kind: 'telemetry' }, stored.telemetry);
    if (dropped.size > 0) this.recordDropped(dropped.size);
    log.debug({ rows: rows.length, seconds }, 'outbox group commit');
    const handOut = appended;
    return handOut !== null && handOut.length > 0 ? () => this.notify(handOut) : undefined;
  }

  // Inside the append transaction: how many publishable rows to store claimed, and when. Renews
  // the claimer's lease first; nothing is claimed unless it holds, or with no listener to hand
  // the claimed rows to. Claiming is an optimisation: a failing claimer never fails the append.
  private claimFor(rows: readonly NewOutboxRow[]): { room: number; at: number } | null {
    const claim = this.claim;
    if (claim === null || this.listeners.size === 0 || !rows.some((r) => r.state === 'pending-commit')) return null;
    let room: number;
    let at: number;
    try {
      room = claim.room();
      at = claim.now();
    } catch (err) {
      this.opts.log.error({ err }, 'append claimer failed; rows appended unclaimed');
      return null;
    }
    if (room <= 0) return null;
    const renewed =
      this.opts.sql.tryLease.run({ owner: claim.owner, expires: at + claim.ttlMs, now: at }).changes === 1;
    return renewed ? { room, at } : null;
  }

  private notify(rows: readonly OutboxRow[]): void {
    for (const listener of this.listeners) {
      try {
        listener(rows);
      } catch (err) {
        this.opts.log.error({ err, rows: rows.length }, 'outbox append listener failed');
      }
    }
  }

  // Runs inside the append transaction; returns the seqs of the telemetry rows it deleted.
  private enforceTelemetryCap(stored: number): Set<number> {
    const { sql, outboxLog, telemetryCap } = this.opts;
    this.openTelemetryBound += stored;
    if (this.openTelemetryBound <= telemetryCap) return new Set();
    outboxLog.flush();
    const { n } = sql.openTelemetry.get() as { n: number };
    const excess = n - telemetryCap;
    const dropped = excess > 0 ? dropOldestTelemetry(sql, outboxLog, excess) : new Set<number>();
    this.openTelemetryBound = n - dropped.size;
    return dropped;
  }

  private recordDropped(dropped: number): void {
    this.droppedTelemetryTotal += dropped;
    this.opts.metrics.telemetryDroppedTotal.inc(dropped);
    this.opts.log.warn({ dropped, cap: this.opts.telemetryCap }, 'outbox telemetry cap reached, oldest dropped');
  }
}

/**
 * The row `append` stored as `seq`, as `Outbox.onAppended` hands it out (body and headers shared);
 * `claimedAt` when the append claimed it.
 */
function storedRow(row: NewOutboxRow, seq: number, claimedAt: number | null): OutboxRow {
  return {
    seq,
    correlationId: row.correlationId,
    subject: row.subject,
    body: row.body,
    headers: row.headers,
    kind: row.kind,
    state: claimedAt === null ? row.state : 'in-flight',
    createdAtMs: row.createdAtMs,
    updatedAtMs: claimedAt ?? row.createdAtMs,
    attempts: claimedAt === null ? 0 : 1,
    firstAttemptAtMs: claimedAt,
    lastAttemptAtMs: claimedAt,
    lastError: null,
    stream: null,
    streamSeq: null,
    committedAtMs: null,
    reason: null,
  };
}
