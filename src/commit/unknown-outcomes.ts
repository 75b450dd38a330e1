/**
 * Resolving unknown outcomes: rows `in-flight` may be in the stream already (a crash, a timeout,
 * a lost PubAck, a takeover). Each is looked up before any resend: found → committed with its
 * seq, without republishing; missing → back to pending, but only while the publisher lease is
 * still ours, since a lookup can outlast the lease and another owner may be sending the row by then.
 */
import type { StreamLocation } from '../core/intent.js';
import { locateRows } from '../core/locate-rows.js';
import type { Clock, Outbox, StreamReader } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import type { CommitMetrics } from './metrics.js';

/** In-flight rows read (and looked up) per page. */
const PAGE_ROWS = 5_000;

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
   * Called right before rows are moved back to pending: true when the caller's lease is held
   * without a break since the rows were read (it renews the lease), false to leave them in-flight.
   */
  holdLease: () => boolean;
  /** Called with the rows found in the stream, as they are marked committed. */
  onCommitted: (rows: Array<{ correlationId: string } & StreamLocation>) => void;
  signal: AbortSignal;
}

/** How a resolution ended; `movedBack` rows went back to pending (below any feed cursor). */
export type UnknownOutcomeResult =
  | { status: 'resolved'; movedBack: number }
  | { status: 'lookup-failed'; movedBack: number; error: unknown }
  | { status: 'lease-lapsed'; movedBack: number };

/** Looks up every unknown in-flight row, page by page. Throws only when `signal` aborts. */
export async function resolveUnknownOutcomes(opts: UnknownOutcomeOptions): Promise<UnknownOutcomeResult> {
  const { outbox, clock, logger, metrics } = opts;
  let movedBack = 0;
  for (let afterSeq = 0; ; ) {
    const page = outbox.listByState(['in-flight'], PAGE_ROWS, afterSeq);
    if (page.length === 0) return { status: 'resolved', movedBack };
    afterSeq = page[page.length - 1]!.seq;
    const rows = page.filter((r) => !opts.skip.has(r.seq));
    if (rows.length === 0) continue;
    let found: Map<string, StreamLocation>;
    try {
      found = await locateRows(opts.reader, rows, opts.scanSkewMs, opts.signal);
    } catch (err) {
      if (opts.signal.aborted) throw err;
      logger.warn({ err, rows: rows.length }, 'stream lookup failed');
      return { status: 'lookup-failed', movedBack, error: err };
    }
    const committed = rows
      .filter((r) => found.has(r.correlationId))
      .map((r) => ({ correlationId: r.correlationId, rowSeq: r.seq, ...found.get(r.correlationId)! }));
    const missing = rows.filter((r) => !found.has(r.correlationId)).map((r) => r.correlationId);
    // A committed mark is right whoever holds the lease: the stream has the row.
    if (committed.length > 0) outbox.markCommitted(committed, clock.now());
    metrics?.lookups.inc({ result: 'found' }, committed.length);
    opts.onCommitted(committed);
    if (missing.length > 0) {
      if (!opts.holdLease()) {
        logger.warn(
          { missing: missing.length },
          'lease ran out during the stream lookup; rows stay in-flight for the next one',
        );
        return { status: 'lease-lapsed', movedBack };
      }
      outbox.markRetry(missing, 'outcome unknown; not found in stream', clock.now());
      movedBack += missing.length;
      metrics?.lookups.inc({ result: 'missing' }, missing.length);
    }
    logger.info({ found: committed.length, missing: missing.length }, 'resolved unknown outcomes from the stream');
    if (page.length < PAGE_ROWS) return { status: 'resolved', movedBack };
  }
}
