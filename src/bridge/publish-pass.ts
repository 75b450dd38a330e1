/**
 * One pass of the commit pipeline: claims publishable rows in insertion order, publishes them
 * with a bounded window of PubAcks in flight, and records every outcome in the outbox.
 * Each claim is one durable transaction (the PubAcks since the last claim, the lease, the
 * in-flight mark) that commits before any of its rows is sent; rows their append transaction
 * already claimed (`Outbox.claimAppends`) are sent without one. No row is sent once the lease
 * that covered its claim may have run out. The pass lasts while rows keep
 * coming or PubAcks are outstanding. A retryable failure stops the pass (no new sends), lets
 * the window drain, and reports it, so the caller backs off and restarts from the oldest
 * unsettled row.
 */
import type { OutboxRow, RowKind, StreamLocation } from '../core/intent.js';
import type { CommandPublisher, Outbox, PublishResult } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import { endSpan, SpanKind, startSpan } from '../observability/tracing.js';
import type { BridgeMetrics } from './metrics.js';
import { PublishFeed } from './publish-feed.js';

/** What a pass did. */
export interface PassResult {
  /** Committed rows; `kind` and `createdAtMs` spare listeners a read of the row. */
  committed: Array<{ correlationId: string; kind?: RowKind; createdAtMs?: number } & StreamLocation>;
  dead: Array<{ correlationId: string; reason: string }>;
  /** Set when a retryable failure stopped the pass. */
  retryableError: string | null;
  /** Rows claimed by the pass (or for it, by their append). 0 means nothing was publishable. */
  claimed: number;
  /**
   * Set when the pass stopped because the lease covering claimed rows may have run out (or
   * was lost): rows it claimed and did not send stay `in-flight`, for a stream lookup.
   */
  leaseLapsed: boolean;
}

/** Inputs of a pass. */
export interface PassOptions {
  outbox: Outbox;
  publisher: CommandPublisher;
  now: () => number;
  window: number;
  batchRows: number;
  logger: Logger;
  metrics: BridgeMetrics | undefined;
  signal: AbortSignal;
  /**
   * The publisher lease, renewed in every claim transaction; when another owner holds it the
   * pass stops claiming at once. Without it the caller answers for the lease.
   */
  lease?: { owner: string; ttlMs: number };
  /** An extra check before each claim; false stops claiming. */
  renewLease?: () => boolean;
  /** Where rows come from (kept across passes by the committer). Default: the outbox, read each time. */
  feed?: PublishFeed;
  /** Called whenever rows settle, so that listeners (SSE, gossip) hear promptly. */
  onSettled: (committed: PassResult['committed'], dead: PassResult['dead']) => void;
}

/** Runs one pass over the publishable rows. */
/** A row is not sent when the lease that covered its claim runs out within this margin. */
export const LEASE_SEND_MARGIN_MS = 2_000;

export async function runPublishPass(opts: PassOptions): Promise<PassResult> {
  const pass = new Pass(opts);
  try {
    return await pass.run();
  } finally {
    pass.close();
  }
}

// One pass's state: the outcomes not yet written, and the count of publishes awaiting a PubAck
// with a single waiter (the loop) woken by a PubAck, new rows, or the abort.
class Pass {
  readonly result: PassResult = { committed: [], dead: [], retryableError: null, claimed: 0, leaseLapsed: false };
  private readonly feed: PublishFeed;
  private acked: PassResult['committed'] = [];
  private dead: PassResult['dead'] = [];
  private retry: string[] = [];
  private lastError: string | null = null;
  private inflight = 0;
  // Until when the lease is known to be ours (from the last renewal that claimed rows).
  private leaseUntil = 0;
  private waiter: (() => void) | null = null;
  private readonly wakeLoop = (): void => {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  };

  constructor(private readonly opts: PassOptions) {
    this.feed = opts.feed ?? new PublishFeed(opts.outbox, 0);
    this.feed.onChange(this.wakeLoop);
    opts.signal.addEventListener('abort', this.wakeLoop);
  }

  close(): void {
    this.feed.onChange(null);
    this.opts.signal.removeEventListener('abort', this.wakeLoop);
  }

  private stopped(): boolean {
    return this.result.retryableError !== null || this.result.leaseLapsed || this.opts.signal.aborted;
  }

  private wait(): Promise<void> {
    return new Promise<void>((resolve) => (this.waiter = resolve));
  }

  async run(): Promise<PassResult> {
    // Bounded, so that a pass under sustained load still returns (its result stays small, and
    // the committer gets to look at the outbox and the lease between passes).
    const maxClaimed = this.opts.batchRows * 64;
    while (!this.stopped() && this.result.claimed < maxClaimed) {
      if (this.dead.length > 0 || this.retry.length > 0) this.settle();
      // Each claim costs an fsync: while half the window is still in flight, wait until a full
      // batch is ready in memory rather than claim every few rows.
      const rows = this.inflight >= this.opts.window / 2 && this.feed.ready < this.opts.batchRows ? [] : this.feed.take(this.opts.batchRows);
      if (rows.length === 0) {
        if (this.inflight === 0) break;
        // Nothing to claim: write the PubAcks so far (listeners hear now), then wait for more.
        this.settle();
        await this.wait();
        continue;
      }
      const claimed = this.claim(rows);
      if (claimed === null) break;
      await this.send(claimed);
      // Rows claimed on append bring no claim transaction to carry their PubAcks: write them now and then.
      if (this.acked.length >= this.opts.batchRows) this.settle();
    }
    while (this.inflight > 0) await this.wait();
    this.settle();
    return this.result;
  }

  /**
   * One transaction for the rows still `pending-commit`: the PubAcks so far, the lease, the
   * in-flight mark. Rows their append claimed (`in-flight`) need none. Null: the lease is lost.
   */
  private claim(rows: OutboxRow[]): OutboxRow[] | null {
    const { opts } = this;
    const fresh = rows.filter((r) => r.state === 'pending-commit');
    for (const r of rows) if (r.state === 'in-flight') this.coveredUntil(r.lastAttemptAtMs ?? 0);
    this.result.claimed += rows.length - fresh.length;
    if (fresh.length === 0) return rows;
    if (opts.renewLease !== undefined && !opts.renewLease()) return this.unclaimed(rows);
    const committed = this.acked;
    this.acked = [];
    const atMs = opts.now();
    const lease = opts.lease === undefined ? {} : { lease: opts.lease };
    const moved = opts.outbox.claim({ ids: fresh.map((r) => r.correlationId), atMs, committed, ...lease });
    this.announce(committed, []);
    if (moved === null) return this.unclaimed(rows);
    this.coveredUntil(atMs);
    this.result.claimed += moved.length;
    if (moved.length === fresh.length) return rows;
    // Someone else moved a row since it was read: send only what this claim moved.
    opts.logger.warn({ claimed: fresh.length, moved: moved.length }, 'rows changed state before their claim; sending only those claimed');
    this.feed.invalidate();
    const ours = new Set(moved);
    return rows.filter((r) => r.state === 'in-flight' || ours.has(r.correlationId));
  }

  // The lease was renewed at `atMs` by a claim of rows this pass sends.
  private coveredUntil(atMs: number): void {
    if (this.opts.lease !== undefined) this.leaseUntil = Math.max(this.leaseUntil, atMs + this.opts.lease.ttlMs);
  }

  // True once the lease covering the claims so far may run out before a publish lands.
  private leaseLapsing(): boolean {
    return this.opts.lease !== undefined && this.opts.now() >= this.leaseUntil - LEASE_SEND_MARGIN_MS;
  }

  private unclaimed(rows: OutboxRow[]): null {
    // Taken from the feed but never claimed: pending rows are still pending-commit in the
    // outbox; rows claimed on append are in-flight under a lease that is no longer ours.
    if (rows.length > 0) this.feed.invalidate();
    if (rows.some((r) => r.state === 'in-flight')) this.result.leaseLapsed = true;
    return null;
  }

  private async send(rows: OutboxRow[]): Promise<void> {
    const { opts } = this;
    let sent = 0;
    for (const row of rows) {
      while (this.inflight >= opts.window && !this.stopped()) await this.wait();
      if (!this.stopped() && this.leaseLapsing()) this.result.leaseLapsed = true;
      if (this.stopped()) break;
      this.publish(row);
      sent++;
    }
    if (sent === rows.length) return;
    this.feed.invalidate();
    // Another owner may hold the lease by now: leave the rest in-flight, to a stream lookup.
    if (this.result.leaseLapsed) return;
    // Rows claimed but never sent go straight back: their outcome is known (not sent).
    const unsent = rows.slice(sent).map((r) => r.correlationId);
    opts.outbox.markRetry(unsent, this.result.retryableError ?? 'pass stopped', opts.now());
  }

  private publish(row: OutboxRow): void {
    const { opts } = this;
    // `intent.commit`: one publish, a child of the trace the agent started (no-op without an SDK).
    const span = startSpan('intent.commit', row.headers['traceparent'], SpanKind.PRODUCER, {
      'messaging.system': 'nats',
      'messaging.destination.name': row.subject,
      'net_sync.correlation_id': row.correlationId,
    });
    this.inflight++;
    void opts.publisher
      .publish({ subject: row.subject, body: row.body, msgId: row.correlationId, headers: row.headers }, opts.signal)
      .then((r) => {
        endSpan(span, r.kind === 'failed' ? r.code : undefined);
        this.record(row, r);
      })
      .finally(() => {
        this.inflight--;
        this.wakeLoop();
      });
  }

  private record(row: OutboxRow, r: PublishResult): void {
    const { opts, result } = this;
    if (r.kind === 'acked') {
      this.acked.push({ correlationId: row.correlationId, stream: r.stream, seq: r.seq, kind: row.kind, createdAtMs: row.createdAtMs });
      opts.metrics?.commits.inc({ result: r.duplicate ? 'duplicate' : 'committed' });
      opts.metrics?.commitLatency.observe({ kind: row.kind }, Math.max(0, opts.now() - row.createdAtMs) / 1000);
    } else if (!r.retryable) {
      this.dead.push({ correlationId: row.correlationId, reason: `${r.code}: ${r.reason}` });
      opts.metrics?.commits.inc({ result: 'dead' });
      opts.logger.error({ correlationId: row.correlationId, subject: row.subject, code: r.code, reason: r.reason }, 'row refused permanently');
    } else {
      this.lastError = `${r.code}: ${r.reason}`;
      result.retryableError ??= this.lastError;
      // A row that may have reached the stream stays in-flight: it is looked up before any resend.
      if (!r.outcomeUnknown) this.retry.push(row.correlationId);
      opts.metrics?.commits.inc({ result: r.outcomeUnknown ? 'unknown' : 'retry' });
    }
  }

  // Writes the outcomes gathered since the last claim or settle.
  private settle(): void {
    const { acked, dead, retry, opts } = this;
    if (acked.length === 0 && dead.length === 0 && retry.length === 0) return;
    this.acked = [];
    this.dead = [];
    this.retry = [];
    const at = opts.now();
    // Not durable: these rows are durably in-flight, where a lost mark sends them back (to a lookup).
    if (acked.length > 0) opts.outbox.markCommitted(acked, at, { durable: false });
    for (const d of dead) opts.outbox.markTerminal([d.correlationId], 'dead', d.reason, at);
    if (retry.length > 0) {
      opts.outbox.markRetry(retry, this.lastError ?? 'retryable failure', at);
      this.feed.invalidate();
    }
    this.announce(acked, dead);
  }

  private announce(committed: PassResult['committed'], dead: PassResult['dead']): void {
    if (committed.length === 0 && dead.length === 0) return;
    this.result.committed.push(...committed);
    this.result.dead.push(...dead);
    this.opts.onSettled(committed, dead);
  }
}
