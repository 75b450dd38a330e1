/**
 * `net-sync reconcile`: aligns the outbox with the stream. Uncertain rows found in the stream
 * are marked committed without republishing; the rest are published; with `verify`, committed
 * rows are checked to still be in the stream. Only the publisher-lease holder publishes, so a
 * reconcile beside a running sidecar never double-publishes.
 */
import type { IntentState } from '../core/intent.js';
import { locateRows } from '../core/locate-rows.js';
import type { Clock, CommandPublisher, Outbox, StreamReader } from '../core/ports.js';
import { planReconcile, type LostRow, type ReconcilePlan } from './plan.js';

/** Collaborators and options of one reconcile run. */
export interface ReconcileOptions {
  outbox: Outbox;
  publisher: CommandPublisher;
  reader: StreamReader;
  clock: Clock;
  /** Owner name for the publisher lease, e.g. `reconcile:<pid>`. */
  leaseOwner: string;
  scanSkewMs: number;
  /**
   * Publishes the publishable rows in insertion order, renewing the lease with `renewLease`
   * before each claim (the committer's publish pass, wired by the composition root).
   */
  publishPending: PublishPending;
  dryRun: boolean;
  /** Also check committed rows against the stream (acknowledged-but-lost detection). */
  verify: boolean;
  /** Scan the stream from this wall-clock time instead of from the oldest row's time. */
  scanFromMs?: number;
  /** First sequence per stream, to tell retention from loss. */
  firstSeq?: (stream: string) => Promise<number | undefined>;
  /** Progress callback: phase and rows done/total. */
  onProgress?: (phase: 'scan' | 'publish', done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Rows that settled during a publish: how many committed, and those refused for good. */
export type SettledRows = (committed: number, dead: ReadonlyArray<{ correlationId: string; reason: string }>) => void;

/** How reconcile publishes the rows the stream lacks; see {@link ReconcileOptions.publishPending}. */
export type PublishPending = (req: {
  renewLease: () => boolean;
  onSettled: SettledRows;
  signal: AbortSignal;
}) => Promise<{ committed: number; retryableError: string | null }>;

/** The outcome of a reconcile run. */
export interface ReconcileReport {
  dryRun: boolean;
  /** Rows examined. */
  examined: number;
  /** Uncertain rows found in the stream and marked committed without republishing. */
  foundInStream: number;
  /** Rows (to be) published because the stream lacks them. */
  published: number;
  /** Rows that could not be published in this run. */
  unresolved: number;
  /** Why publishing stopped, when it did. */
  publishError: string | null;
  /** Committed rows confirmed (verify). */
  verified: number;
  /** Committed rows acknowledged but gone (verify). */
  lost: LostRow[];
  retentionExpired: number;
  dead: ReconcilePlan['dead'];
  /** Lease holder that will publish instead of us, when a sidecar runs on the same file. */
  deferredTo: string | null;
  /** True when nothing is left unresolved, lost or dead. */
  aligned: boolean;
}

const PAGE = 10_000;
/** Reconcile's lease lifetime; renewed before every claim while it publishes. */
const LEASE_TTL_MS = 60_000;

function loadRows(outbox: Outbox, states: readonly IntentState[]) {
  const rows = [];
  let after = 0;
  for (;;) {
    const page = outbox.listByState(states, PAGE, after);
    rows.push(...page);
    if (page.length < PAGE) return rows;
    after = page[page.length - 1]!.seq;
  }
}

/** Runs reconcile once. Throws only when the stream cannot be read at all. */
export async function reconcile(opts: ReconcileOptions): Promise<ReconcileReport> {
  const { outbox, clock } = opts;
  const holdsLease = opts.dryRun || outbox.tryLease(opts.leaseOwner, LEASE_TTL_MS, clock.now());
  const deferredTo = holdsLease ? null : (outbox.leaseHolder(clock.now())?.owner ?? null);
  try {
    const states: IntentState[] = [
      'pending-commit',
      'in-flight',
      'dead',
      ...(opts.verify ? (['committed'] as const) : []),
    ];
    const rows = loadRows(outbox, states);
    opts.onProgress?.('scan', 0, rows.length);
    const lookup = rows.filter((r) => r.state !== 'dead');
    const found = await locateRows(opts.reader, lookup, opts.scanSkewMs, opts.signal, opts.scanFromMs);
    opts.onProgress?.('scan', rows.length, rows.length);
    const firstSeq = await firstSeqs(
      opts,
      rows.filter((r) => r.state === 'committed' && !found.has(r.correlationId)),
    );
    const plan = planReconcile(rows, found, firstSeq);
    const report = baseReport(opts, rows.length, plan, deferredTo);
    if (opts.dryRun) return finish(report, plan.publish.length);
    outbox.markCommitted(plan.markCommitted, clock.now());
    if (!holdsLease) return finish(report, plan.publish.length);
    // Missing rows go back to pending and are published in insertion order.
    outbox.markRetry(
      plan.publish.filter((r) => r.state === 'in-flight').map((r) => r.correlationId),
      'reconcile: not found in stream',
      clock.now(),
    );
    return finish(report, await publishMissing(opts, plan.publish.length, report));
  } finally {
    if (holdsLease && !opts.dryRun) outbox.releaseLease(opts.leaseOwner);
  }
}

async function firstSeqs(
  opts: ReconcileOptions,
  rows: ReadonlyArray<{ stream: string | null }>,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (opts.firstSeq === undefined) return out;
  for (const stream of new Set(rows.map((r) => r.stream))) {
    if (stream === null) continue;
    const first = await opts.firstSeq(stream);
    if (first !== undefined) out.set(stream, first);
  }
  return out;
}

function baseReport(
  opts: ReconcileOptions,
  examined: number,
  plan: ReconcilePlan,
  deferredTo: string | null,
): ReconcileReport {
  return {
    dryRun: opts.dryRun,
    examined,
    foundInStream: plan.markCommitted.length,
    published: opts.dryRun ? plan.publish.length : 0,
    unresolved: 0,
    publishError: null,
    verified: plan.verified,
    lost: plan.lost,
    retentionExpired: plan.retentionExpired,
    dead: plan.dead,
    deferredTo,
    aligned: false,
  };
}

async function publishMissing(opts: ReconcileOptions, total: number, report: ReconcileReport): Promise<number> {
  const signal = opts.signal ?? new AbortController().signal;
  let done = 0;
  const pass = await opts.publishPending({
    renewLease: () => opts.outbox.tryLease(opts.leaseOwner, LEASE_TTL_MS, opts.clock.now()),
    signal,
    onSettled: (committed, dead) => {
      done += committed + dead.length;
      opts.onProgress?.('publish', done, total);
      report.dead.push(
        ...dead.map((d) => ({
          correlationId: d.correlationId,
          subject: opts.outbox.get(d.correlationId)?.subject ?? '',
          reason: d.reason,
        })),
      );
    },
  });
  report.published = pass.committed;
  report.publishError = pass.retryableError;
  const counts = opts.outbox.counts();
  return counts['pending-commit'] + counts['in-flight'];
}

function finish(report: ReconcileReport, unresolved: number): ReconcileReport {
  report.unresolved = report.dryRun ? report.published : unresolved;
  report.aligned = report.unresolved === 0 && report.lost.length === 0 && report.dead.length === 0;
  return report;
}
