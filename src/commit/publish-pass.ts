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
import { isDeadLetterId } from '../core/dead-letter.js';
import type { NewOutboxRow, OutboxRow, RowKind, StreamLocation } from '../core/intent.js';
import { LeaseCoverage, LeaseTerms } from '../core/lease-coverage.js';
import type { CommandPublisher, Outbox, PublishResult } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import { sendMessage } from '../core/send-message.js';
import { intentHop } from '../observability/intent-hops.js';
import { endSpan, type Span, SpanKind, startSpan } from '../observability/tracing.js';
import type { CommitMetrics } from './metrics.js';
import { PublishFeed } from './publish-feed.js';

/**
 * Claims per pass, in batches: bounded so that a pass under sustained load still returns (its
 * result stays small), and the committer looks at the outbox and the lease between passes.
 */
const MAX_BATCHES_PER_PASS = 64;

/**
 * The first claim of a pass takes at most this many rows, and the pass writes their PubAcks as soon
 * as the first arrives: the first commit after an outage or a restart then waits for one small
 * claim and one round trip, not for a window of PubAcks behind three claims (docs/benchmarks.md).
 */
export const FIRST_CLAIM_ROWS = 32;

/** What a pass did. */
export interface PassResult {
  /**
   * Committed rows; `kind`, `createdAtMs` and `headers` (the row's own object, not a copy) spare
   * listeners a read of the row.
   */
  committed: Array<
    {
      correlationId: string;
      rowSeq?: number;
      kind?: RowKind;
      createdAtMs?: number;
      headers?: Readonly<Record<string, string>>;
    } & StreamLocation
  >;
  dead: Array<{ correlationId: string; reason: string }>;
  /** Set when a retryable failure stopped the pass. */
  retryableError: string | null;
  /** Rows claimed by the pass (or for it, by their append). 0 means nothing was publishable. */
  claimed: number;
  /** Rows claimed but left in-flight for a stream lookup before any send (see `sharedIdLookupAfterMs`). */
  lookupFirst: number;
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
  metrics: CommitMetrics | undefined;
  signal: AbortSignal;
  /**
   * The publisher lease, renewed in every claim transaction; when another owner holds it the
   * pass stops claiming at once. Without it the caller answers for the lease.
   */
  lease?: {
    owner: string;
    ttlMs: number;
    /** No row is sent once the lease covering its claim runs out within this margin (the publish timeout). */
    sendMarginMs: number;
  };
  /** An extra check before each claim; false stops claiming. */
  renewLease?: () => boolean;
  /**
   * Telemetry rows share their `Nats-Msg-Id` with other scouts' copies of the same summary (the
   * runner-up's backup, a handoff). One unchanged for this long (not appended, attempted or looked
   * up since) is claimed but not sent: it stays in-flight for the stream lookup, since another copy
   * may have been stored longer ago than the duplicate window, which would no longer absorb ours.
   * Undefined: never.
   */
  sharedIdLookupAfterMs?: number;
  /**
   * With consensus on, a command row's `Nats-Msg-Id` is shared with every committer of its
   * cohort: past its slot, another may have taken it over and stored it. One left pending this
   * long (a committer cut off after the promotion, a NATS outage) is claimed but not sent, like
   * the telemetry rows above, and looked up first: sent later, it could land after the other
   * copy's duplicate window. Undefined (consensus off): never, only this sidecar sends its rows.
   */
  commandLookupAfterMs?: number;
  /** Where rows come from (kept across passes by the committer). Default: the outbox, read each time. */
  feed?: PublishFeed;
  /** Called whenever rows settle, so that listeners (SSE, gossip) hear promptly. */
  onSettled: (committed: PassResult['committed'], dead: PassResult['dead']) => void;
  /** The dead-letter notice to store with a row going `dead` (same transaction), if any. */
  deadLetter?: (row: OutboxRow, reason: string, atMs: number) => NewOutboxRow | null;
}

/**
 * A claimed row and the coverage of the lease its claim renewed: while it holds, no other owner
 * can have touched the row, so it may be put back to pending; with the send margin left, sent.
 */
interface Claimed {
  row: OutboxRow;
  coverage: LeaseCoverage;
  /** The `intent.commit` span while its publish is under way. */
  span?: Span | undefined;
}

const COMMITTED = { result: 'committed' } as const;
const DUPLICATE = { result: 'duplicate' } as const;
const KIND_LABELS = new Map<RowKind, { kind: RowKind }>();
// One label object per kind, not one per PubAck.
function kindLabel(kind: RowKind): { kind: RowKind } {
  const l = KIND_LABELS.get(kind);
  if (l !== undefined) return l;
  const made = { kind };
  KIND_LABELS.set(kind, made);
  return made;
}

/** Runs one pass over the publishable rows. */
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
  readonly result: PassResult = {
    committed: [],
    dead: [],
    retryableError: null,
    claimed: 0,
    leaseLapsed: false,
    lookupFirst: 0,
  };
  private readonly feed: PublishFeed;
  // Null without a lease of ours: the caller answers for it, and every claim is covered.
  private readonly lease: LeaseTerms | null;
  private acked: PassResult['committed'] = [];
  private dead: Array<PassResult['dead'][number] & { row: OutboxRow }> = [];
  private retry: Claimed[] = [];
  private lastError: string | null = null;
  private inflight = 0;
  // PubAcks not yet counted in the `commits` metric.
  private readonly tally = { committed: 0, duplicate: 0 };
  private waiter: (() => void) | null = null;
  private readonly wakeLoop = (): void => {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  };

  constructor(private readonly opts: PassOptions) {
    this.feed = opts.feed ?? new PublishFeed(opts.outbox, 0);
    this.lease = opts.lease === undefined ? null : new LeaseTerms(opts.lease.ttlMs, opts.lease.sendMarginMs);
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
    const maxClaimed = this.opts.batchRows * MAX_BATCHES_PER_PASS;
    let first = true;
    while (!this.stopped() && this.result.claimed < maxClaimed) {
      if (this.dead.length > 0 || this.retry.length > 0) this.settle();
      // Each claim costs an fsync: while half the window is still in flight, wait until a full
      // batch is ready in memory rather than claim every few rows.
      const rows =
        this.inflight >= this.opts.window / 2 && this.feed.ready < this.opts.batchRows
          ? []
          : this.feed.take(first ? Math.min(FIRST_CLAIM_ROWS, this.opts.batchRows) : this.opts.batchRows);
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
      if (first) {
        // The first PubAck of the pass is written (and heard) at once; later ones with the next claim.
        first = false;
        while (this.acked.length === 0 && this.inflight > 0 && !this.stopped()) await this.wait();
        this.settle();
      }
      // Rows claimed on append bring no claim transaction to carry their PubAcks: write them now and then.
      if (this.acked.length >= this.opts.batchRows) this.settle();
    }
    while (this.inflight > 0) await this.wait();
    this.settle();
    return this.result;
  }

  /**
   * One transaction for the rows still `pending-commit`: the PubAcks so far, the lease, the
   * in-flight mark. Rows their append claimed (`in-flight`) need none: their append renewed the
   * lease. Null: the lease is lost.
   */
  private claim(rows: OutboxRow[]): Claimed[] | null {
    const { opts } = this;
    const fresh = rows.filter((r) => r.state === 'pending-commit');
    this.result.claimed += rows.length - fresh.length;
    if (fresh.length === 0) return rows.map((r) => this.covered(r, null));
    if (opts.renewLease !== undefined && !opts.renewLease()) return this.unclaimed(rows);
    const committed = this.acked;
    this.acked = [];
    const atMs = opts.now();
    const lease = opts.lease === undefined ? {} : { lease: opts.lease };
    const ids = fresh.map((r) => r.correlationId);
    const moved = opts.outbox.claim({ ids, seqs: fresh.map((r) => r.seq), atMs, committed, ...lease });
    this.announce(committed, []);
    if (moved === null) return this.unclaimed(rows);
    this.result.claimed += moved.length;
    let ours = rows;
    if (moved.length !== fresh.length) {
      // Someone else moved a row since it was read: send only what this claim moved.
      opts.logger.warn(
        { claimed: fresh.length, moved: moved.length },
        'rows changed state before their claim; sending only those claimed',
      );
      this.feed.invalidate();
      const movedIds = new Set(moved);
      ours = rows.filter((r) => r.state === 'in-flight' || movedIds.has(r.correlationId));
    }
    const send = ours.filter((r) => !this.lookupFirst(r, atMs));
    for (const r of send) intentHop(r.correlationId, 'claimed');
    this.result.lookupFirst += ours.length - send.length;
    return send.map((r) => this.covered(r, atMs));
  }

  // A pending row whose ID others share, gone stale (`sharedIdLookupAfterMs`, `commandLookupAfterMs`):
  // in-flight now, looked up first.
  private lookupFirst(row: OutboxRow, atMs: number): boolean {
    if (row.state !== 'pending-commit') return false;
    const after = row.kind === 'telemetry' ? this.opts.sharedIdLookupAfterMs : this.opts.commandLookupAfterMs;
    // `updatedAtMs`: a lookup that found nothing moved the row back just now, so it is sent then.
    return after !== undefined && atMs - row.updatedAtMs > after;
  }

  // `row` with its coverage: an in-flight row was claimed by its append, a pending one by this claim at `claimedAtMs`.
  private covered(row: OutboxRow, claimedAtMs: number | null): Claimed {
    if (this.lease === null) return { row, coverage: LeaseCoverage.UNBOUNDED };
    const coverage =
      row.state === 'in-flight' || claimedAtMs === null ? this.lease.ofClaim(row) : this.lease.renewedAt(claimedAtMs);
    return { row, coverage };
  }

  /**
   * Claimed rows known not to be in the stream go back to pending while their claim's lease is
   * still ours; the others stay in-flight, for a stream lookup (another owner may hold them now).
   */
  private putBack(rows: readonly Claimed[], error: string): void {
    if (rows.length === 0) return;
    const now = this.opts.now();
    const back = rows.filter((c) => c.coverage.holds(now)).map((c) => c.row.correlationId);
    if (back.length < rows.length) this.result.leaseLapsed = true;
    if (back.length > 0) this.opts.outbox.markRetry(back, error, now);
    this.feed.invalidate();
  }

  private unclaimed(rows: OutboxRow[]): null {
    // Taken from the feed but never claimed: pending rows are still pending-commit in the
    // outbox; rows claimed on append are in-flight under a lease that is no longer ours.
    if (rows.length > 0) this.feed.invalidate();
    if (rows.some((r) => r.state === 'in-flight')) this.result.leaseLapsed = true;
    return null;
  }

  private async send(rows: Claimed[]): Promise<void> {
    const { opts } = this;
    let sent = 0;
    for (const c of rows) {
      while (this.inflight >= opts.window && !this.stopped()) await this.wait();
      // Never send once the lease that covered the claim may run out before the publish lands.
      if (!this.stopped() && !c.coverage.holdsWithMargin(opts.now())) this.result.leaseLapsed = true;
      if (this.stopped()) break;
      this.publish(c);
      sent++;
    }
    // Rows claimed but never sent: their outcome is known (not sent).
    if (sent < rows.length)
      this.putBack(
        rows.slice(sent),
        this.result.retryableError ?? (this.result.leaseLapsed ? 'lease may have lapsed' : 'pass stopped'),
      );
  }

  private publish(claimed: Claimed): void {
    const { row } = claimed;
    const { opts } = this;
    // `intent.commit`: one publish, a child of the trace the agent started (no-op without an SDK).
    claimed.span = startSpan('intent.commit', row.headers['traceparent'], SpanKind.PRODUCER, {
      'messaging.system': 'nats',
      'messaging.destination.name': row.subject,
      'net_sync.correlation_id': row.correlationId,
    });
    this.inflight++;
    intentHop(row.correlationId, 'publish');
    // No promise per message: `published` hears the outcome, with the claim as its context.
    sendMessage(
      opts.publisher,
      { subject: row.subject, body: row.body, msgId: row.correlationId, headers: row.headers },
      claimed,
      this.published,
      opts.signal,
    );
  }

  private readonly published = (claimed: Claimed, r: PublishResult): void => {
    if (claimed.span !== undefined) endSpan(claimed.span, r.kind === 'failed' ? r.code : undefined);
    claimed.span = undefined;
    try {
      this.record(claimed, r);
    } finally {
      this.inflight--;
      this.wakeLoop();
    }
  };

  private record(claimed: Claimed, r: PublishResult): void {
    const { row } = claimed;
    const { opts, result } = this;
    if (r.kind === 'acked') {
      intentHop(row.correlationId, 'puback');
      this.acked.push({
        correlationId: row.correlationId,
        rowSeq: row.seq,
        stream: r.stream,
        seq: r.seq,
        kind: row.kind,
        createdAtMs: row.createdAtMs,
        headers: row.headers,
      });
      this.tally[r.duplicate ? 'duplicate' : 'committed']++;
      // A dead-letter notice is no intent: its latency would skew the command SLA.
      if (opts.metrics !== undefined && !isDeadLetterId(row.correlationId))
        opts.metrics.commitLatency.observe(kindLabel(row.kind), Math.max(0, opts.now() - row.createdAtMs) / 1000);
    } else if (!r.retryable) {
      this.dead.push({ correlationId: row.correlationId, reason: `${r.code}: ${r.reason}`, row });
      opts.logger.error(
        { correlationId: row.correlationId, subject: row.subject, code: r.code, reason: r.reason },
        'row refused permanently',
      );
    } else {
      this.lastError = `${r.code}: ${r.reason}`;
      result.retryableError ??= this.lastError;
      // A row that may have reached the stream stays in-flight: it is looked up before any resend.
      if (!r.outcomeUnknown) this.retry.push(claimed);
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
    // Only rows that did move are dead: one a peer committed meanwhile stays committed, unannounced.
    const moved = dead.filter((d) => {
      const notice = opts.deadLetter?.(d.row, d.reason, at) ?? null;
      return (
        opts.outbox.markTerminal(
          [d.correlationId],
          'dead',
          d.reason,
          at,
          notice === null ? undefined : new Map([[d.correlationId, notice]]),
        ).length > 0
      );
    });
    if (moved.length > 0) opts.metrics?.commits.inc({ result: 'dead' }, moved.length);
    // Notices are stored outside an append: the feed reads the outbox for them.
    if (opts.deadLetter !== undefined && moved.length > 0) this.feed.rescan();
    this.putBack(retry, this.lastError ?? 'retryable failure');
    this.announce(
      acked,
      moved.map(({ correlationId, reason }) => ({ correlationId, reason })),
    );
  }

  private announce(committed: PassResult['committed'], dead: PassResult['dead']): void {
    // PubAcks are counted when they are written, not one by one.
    const { tally } = this;
    if (tally.committed > 0) this.opts.metrics?.commits.inc(COMMITTED, tally.committed);
    if (tally.duplicate > 0) this.opts.metrics?.commits.inc(DUPLICATE, tally.duplicate);
    tally.committed = tally.duplicate = 0;
    if (committed.length === 0 && dead.length === 0) return;
    this.result.committed.push(...committed);
    this.result.dead.push(...dead);
    this.opts.onSettled(committed, dead);
  }
}
