/**
 * Resolving unknown outcomes: rows `in-flight` may be in the stream already (a crash, a timeout,
 * a lost PubAck, a takeover). Each is looked up before any resend: found → committed with its
 * seq, without republishing; missing → back to pending, but only while the publisher lease is
 * still ours, since a lookup can outlast the lease and another owner may be sending the row by then.
 *
 * While the stream's duplicate window still covers every copy a row may have (`resendWithinMs`),
 * the lookup is a resend under the row's own `Nats-Msg-Id`: JetStream answers a copy it holds
 * with `duplicate: true` and the first copy's sequence, and stores one it lacks, so the PubAck is
 * the answer, one round trip per window of rows instead of a read of the stream. Past the window
 * the stream is read (docs/commit-path.md).
 */
import type { OutboxRow, StreamLocation } from '../core/intent.js';
import { earliestStoreMs, locateRows } from '../core/locate-rows.js';
import type { Clock, CommandPublisher, Outbox, PublishResult, StreamReader } from '../core/ports.js';
import { sendMessage } from '../core/send-message.js';
import type { Logger } from '../observability/logger.js';
import type { CommitMetrics } from './metrics.js';

/** In-flight rows read (and looked up) per page. */
const PAGE_ROWS = 5_000;

/** Rows resent first, and marked committed before the rest go out: the first commit after an outage. */
const FIRST_RESEND_ROWS = 32;

/** Resending instead of reading the stream: see the module comment. */
export interface ResendLookup {
  publisher: CommandPublisher;
  /**
   * A row may be resent when its earliest possible copy (`earliestStoreMs`) is less than this old
   * once the resend has landed (`sendMarginMs` on): half the shortest duplicate window of the
   * streams, so that a window shortened since it was read, or a clock step, leaves room.
   */
  withinMs: number;
  /** A send lands or times out within this (the publish timeout); the lease must hold that long. */
  sendMarginMs: number;
  /** PubAcks outstanding at once. */
  window: number;
  /** True while the lease, as last renewed, still covers a send started now. */
  mayStillSend: () => boolean;
}

/** What {@link resolveUnknownOutcomes} works with. */
export interface UnknownOutcomeOptions {
  outbox: Outbox;
  reader: StreamReader;
  clock: Clock;
  logger: Logger;
  metrics: CommitMetrics | undefined;
  /** Clock-skew allowance when scanning the stream for a row. */
  scanSkewMs: number;
  /** Seqs of in-flight rows that are not unknown: claimed for the caller and held for sending. */
  skip: ReadonlySet<number>;
  /**
   * Called right before rows are moved back to pending or resent: true when the caller's lease is
   * held without a break since the rows were read (it renews the lease), false to leave them in-flight.
   */
  holdLease: () => boolean;
  /** Called with the rows found in the stream, as they are marked committed. */
  onCommitted: (rows: Array<{ correlationId: string; rowSeq?: number } & StreamLocation>) => void;
  /** Resend rows the duplicate window still covers instead of scanning for them; undefined: always scan. */
  resend?: ResendLookup | undefined;
  signal: AbortSignal;
}

/** Rows looked up, found by a scan, settled by a resend, and moved back to pending (below any feed cursor). */
export interface UnknownOutcomeCounts {
  rows: number;
  found: number;
  resent: number;
  movedBack: number;
  /** Why a resend stopped short (the first failure), if one did. */
  resendFailure?: string;
}

/** How a resolution ended, with its counts. */
export type UnknownOutcomeResult = UnknownOutcomeCounts &
  ({ status: 'resolved' } | { status: 'lookup-failed'; error: unknown } | { status: 'lease-lapsed' });

type Committed = { correlationId: string; rowSeq: number } & StreamLocation;

/** Looks up every unknown in-flight row, page by page. Throws only when `signal` aborts. */
export async function resolveUnknownOutcomes(opts: UnknownOutcomeOptions): Promise<UnknownOutcomeResult> {
  const { outbox, clock, logger, metrics } = opts;
  const counts: UnknownOutcomeCounts = { rows: 0, found: 0, resent: 0, movedBack: 0 };
  for (let afterSeq = 0; ; ) {
    const page = outbox.listByState(['in-flight'], PAGE_ROWS, afterSeq);
    if (page.length === 0) return { status: 'resolved', ...counts };
    afterSeq = page[page.length - 1]!.seq;
    let rows = page.filter((r) => !opts.skip.has(r.seq));
    if (rows.length === 0) continue;
    counts.rows += rows.length;
    if (opts.resend !== undefined && coveredByWindow(rows, opts.resend, opts.scanSkewMs, clock.now())) {
      if (!opts.holdLease()) return leaseLapsed(logger, rows.length, counts);
      const settled = new Set<string>();
      // A few rows first, marked (and heard) as soon as their PubAcks are in; then the rest.
      for (const part of [rows.slice(0, FIRST_RESEND_ROWS), rows.slice(FIRST_RESEND_ROWS)]) {
        if (part.length === 0) continue;
        const { acked, failure } = await resendAll(opts.resend, part, opts.signal);
        if (acked.length > 0) {
          // Not durable, as a pass's marks: the rows are durably in-flight, so a lost mark means a lookup again.
          outbox.markCommitted(acked, clock.now(), { durable: false });
          counts.resent += acked.length;
          metrics?.lookups.inc({ result: 'resent' }, acked.length);
          opts.onCommitted(acked);
        }
        for (const r of acked) settled.add(r.correlationId);
        if (acked.length < part.length) {
          counts.resendFailure ??= failure ?? 'not settled';
          logger.warn(
            { rows: rows.length - settled.size, failure },
            'resend did not settle every row; reading the stream for the rest',
          );
          break;
        }
      }
      // A row the resend did not settle (not connected, refused, no PubAck) is read from the stream.
      rows = rows.filter((r) => !settled.has(r.correlationId));
      if (rows.length === 0) {
        logger.info({ resent: settled.size }, 'resolved unknown outcomes by resending under their own IDs');
        if (page.length < PAGE_ROWS) return { status: 'resolved', ...counts };
        continue;
      }
    }
    let found: Map<string, StreamLocation>;
    try {
      found = await locateRows(opts.reader, rows, opts.scanSkewMs, opts.signal);
    } catch (err) {
      if (opts.signal.aborted) throw err;
      logger.warn({ err, rows: rows.length }, 'stream lookup failed');
      return { status: 'lookup-failed', ...counts, error: err };
    }
    const committed = rows
      .filter((r) => found.has(r.correlationId))
      .map((r) => ({ correlationId: r.correlationId, rowSeq: r.seq, ...found.get(r.correlationId)! }));
    const missing = rows.filter((r) => !found.has(r.correlationId)).map((r) => r.correlationId);
    // A committed mark is right whoever holds the lease: the stream has the row.
    if (committed.length > 0) outbox.markCommitted(committed, clock.now());
    counts.found += committed.length;
    metrics?.lookups.inc({ result: 'found' }, committed.length);
    opts.onCommitted(committed);
    if (missing.length > 0) {
      if (!opts.holdLease()) return leaseLapsed(logger, missing.length, counts);
      outbox.markRetry(missing, 'outcome unknown; not found in stream', clock.now());
      counts.movedBack += missing.length;
      metrics?.lookups.inc({ result: 'missing' }, missing.length);
    }
    logger.info({ found: committed.length, missing: missing.length }, 'resolved unknown outcomes from the stream');
    if (page.length < PAGE_ROWS) return { status: 'resolved', ...counts };
  }
}

function leaseLapsed(logger: Logger, rows: number, counts: UnknownOutcomeCounts): UnknownOutcomeResult {
  logger.warn({ rows }, 'lease ran out during the stream lookup; rows stay in-flight for the next one');
  return { status: 'lease-lapsed', ...counts };
}

/**
 * True when a resend of every row, landing within the send margin, is still inside the duplicate
 * window of every copy each may have: all of the page or none, so that rows go out in their order.
 */
function coveredByWindow(rows: readonly OutboxRow[], resend: ResendLookup, skewMs: number, now: number): boolean {
  const landsBy = now + resend.sendMarginMs + skewMs;
  return rows.every((r) => landsBy - earliestStoreMs(r) < resend.withinMs);
}

/**
 * Sends `rows` under their own IDs, `resend.window` at a time, in order; returns the rows with a
 * PubAck (a duplicate's names the copy the stream had). Stops sending at the first failure or
 * once the lease no longer covers a send: the rest stay in-flight, unknown.
 */
async function resendAll(
  resend: ResendLookup,
  rows: readonly OutboxRow[],
  signal: AbortSignal,
): Promise<{ acked: Committed[]; failure: string | null }> {
  const acked: Committed[] = [];
  let failure: string | null = null;
  let outstanding = 0;
  let failed = false;
  let wake: (() => void) | null = null;
  const done = (row: OutboxRow, r: PublishResult): void => {
    outstanding--;
    if (r.kind === 'acked')
      acked.push({ correlationId: row.correlationId, rowSeq: row.seq, stream: r.stream, seq: r.seq });
    else {
      failure ??= `${r.code}: ${r.reason}`;
      failed = true;
    }
    const w = wake;
    wake = null;
    w?.();
  };
  const settled = (): Promise<void> => new Promise<void>((resolve) => (wake = resolve));
  for (const row of rows) {
    while (outstanding >= resend.window && !failed) await settled();
    if (failed || signal.aborted) break;
    if (!resend.mayStillSend()) {
      failure ??= 'lease may lapse before a send lands';
      break;
    }
    outstanding++;
    const msg = { subject: row.subject, body: row.body, msgId: row.correlationId, headers: row.headers };
    sendMessage(resend.publisher, msg, row, done, signal);
  }
  while (outstanding > 0) await settled();
  // PubAcks come in order per connection; keep insertion order for the marks regardless.
  return { acked: acked.sort((a, b) => a.rowSeq - b.rowSeq), failure };
}
