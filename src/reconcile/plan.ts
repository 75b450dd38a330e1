/**
 * The reconcile plan: a pure diff of outbox rows against what the stream holds.
 */
import type { OutboxRow, StreamLocation } from '../core/intent.js';

/** A committed row the stream no longer has where the outbox says it is. */
export interface LostRow {
  correlationId: string;
  subject: string;
  stream: string | null;
  seq: number | null;
  /** `absent`: not found at all; `moved`: found at another sequence. */
  kind: 'absent' | 'moved';
  foundSeq?: number;
}

/** What reconcile will do, and what it will report. */
export interface ReconcilePlan {
  /** Uncertain rows found in the stream: mark committed, never republish. */
  markCommitted: Array<{ correlationId: string } & StreamLocation>;
  /** Uncertain rows absent from the stream: publish. */
  publish: OutboxRow[];
  /** Committed rows confirmed in the stream at their recorded sequence (with verify). */
  verified: number;
  /** Committed rows acknowledged but gone (with verify). */
  lost: LostRow[];
  /** Committed rows below the stream's first sequence: removed by retention, not lost. */
  retentionExpired: number;
  /** Rows refused permanently, kept for the operator. */
  dead: Array<{ correlationId: string; subject: string; reason: string }>;
}

/** First sequence still held per stream, to tell retention from loss. */
export type StreamFirstSeq = ReadonlyMap<string, number>;

/**
 * Diffs `rows` against `found` (correlationId → where the stream holds it). Rows in
 * `pending-commit`/`in-flight` are uncertain; `committed` rows are verified; `dead` reported.
 */
export function planReconcile(
  rows: readonly OutboxRow[],
  found: ReadonlyMap<string, StreamLocation>,
  firstSeq: StreamFirstSeq = new Map(),
): ReconcilePlan {
  const plan: ReconcilePlan = { markCommitted: [], publish: [], verified: 0, lost: [], retentionExpired: 0, dead: [] };
  for (const row of rows) {
    const hit = found.get(row.correlationId);
    switch (row.state) {
      case 'pending-commit':
      case 'in-flight':
        if (hit !== undefined) plan.markCommitted.push({ correlationId: row.correlationId, ...hit });
        else plan.publish.push(row);
        break;
      case 'committed':
        verifyCommitted(plan, row, hit, firstSeq);
        break;
      case 'dead':
        plan.dead.push({ correlationId: row.correlationId, subject: row.subject, reason: row.reason ?? 'unknown' });
        break;
      default:
        break;
    }
  }
  return plan;
}

function verifyCommitted(
  plan: ReconcilePlan,
  row: OutboxRow,
  hit: StreamLocation | undefined,
  firstSeq: StreamFirstSeq,
): void {
  if (hit !== undefined && hit.seq === row.streamSeq) {
    plan.verified++;
    return;
  }
  const first = row.stream === null ? undefined : firstSeq.get(row.stream);
  if (hit === undefined && first !== undefined && row.streamSeq !== null && row.streamSeq < first) {
    plan.retentionExpired++;
    return;
  }
  plan.lost.push({
    correlationId: row.correlationId,
    subject: row.subject,
    stream: row.stream,
    seq: row.streamSeq,
    kind: hit === undefined ? 'absent' : 'moved',
    ...(hit === undefined ? {} : { foundSeq: hit.seq }),
  });
}
