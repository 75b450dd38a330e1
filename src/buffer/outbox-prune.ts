/**
 * Deleting from the outbox log, inside the caller's transaction: settled rows past retention
 * ({@link pruneSettled}) and the oldest unsent telemetry past the cap ({@link dropOldestTelemetry}).
 * A committed row without a mark lives in a commit batch; the batch record goes once its last
 * row has, and a claim batch once no row of its span is left.
 */
import { PRUNABLE_STATES } from '../core/intent.js';
import { unpackRuns } from '../core/seq-runs.js';
import type { OutboxLog } from './outbox-log.js';
import type { OutboxStatements } from './outbox-statements.js';
import type { LogKey } from './row-codec.js';

/** A row that may be pruned: its seq, kind, when it settled and the commit batch holding it, if any. */
interface Candidate {
  seq: number;
  kind: string;
  at: number;
  batch?: number;
}

/** Commit batches read per page while gathering candidates. */
const BATCH_PAGE = 64;

/**
 * Deletes up to `limit` rows in a prunable state settled before `beforeMs`, oldest seq first;
 * per state it stops at the first row not old enough (see `Outbox.pruneSettled`).
 */
export function pruneSettled(sql: OutboxStatements, log: OutboxLog, beforeMs: number, limit: number): number {
  let deleted = 0;
  for (const state of PRUNABLE_STATES) {
    const room = limit - deleted;
    if (room <= 0) break;
    const candidates = sql.marksSettled.all(state, room) as Candidate[];
    const batchRows = new Map<number, number>();
    if (state === 'committed') candidates.push(...committedInBatches(sql, beforeMs, room, batchRows));
    candidates.sort((a, b) => a.seq - b.seq);
    const take: Candidate[] = [];
    for (const c of candidates) {
      if (take.length >= room || c.at >= beforeMs) break;
      take.push(c);
    }
    if (take.length === 0) continue;
    const seqs = JSON.stringify(take.map((c) => c.seq));
    sql.deleteLog.run(seqs);
    sql.deleteMark.run(seqs);
    for (const c of take) {
      log.bump(c.kind, state, null);
      if (c.batch === undefined) continue;
      const left = (batchRows.get(c.batch) ?? 1) - 1;
      batchRows.set(c.batch, left);
      if (left === 0) sql.deleteBatch.run(c.batch);
    }
    deleted += take.length;
  }
  const below = log.watermark();
  for (const b of sql.claimBatchesBelow.all(below, 256) as Array<{ id: number; lo: number; hi: number }>)
    if (sql.logAny.get(b.lo, b.hi) === undefined) sql.deleteBatch.run(b.id);
  return deleted;
}

// The rows still in the log of the commit batches in row order, until `room` of them or a batch
// committed at or after `beforeMs`; `remaining` gets each batch's count of rows left.
function committedInBatches(
  sql: OutboxStatements,
  beforeMs: number,
  room: number,
  remaining: Map<number, number>,
): Candidate[] {
  const out: Candidate[] = [];
  let page = { lo: -1, id: 0 };
  for (;;) {
    const batches = sql.commitBatches.all({ ...page, n: BATCH_PAGE }) as Array<{
      id: number;
      lo: number;
      hi: number;
      at_ms: number;
      runs: Buffer;
    }>;
    for (const b of batches) {
      const covered = new Set<number>();
      for (const run of unpackRuns(b.runs)) for (let k = 0; k < run.length; k++) covered.add(run.row + k);
      const rows = (sql.keyRange.all(b.lo, b.hi) as LogKey[]).filter((r) => covered.has(r.seq));
      if (rows.length === 0) {
        sql.deleteBatch.run(b.id);
        continue;
      }
      remaining.set(b.id, rows.length);
      for (const r of rows) out.push({ seq: r.seq, kind: r.kind, at: b.at_ms, batch: b.id });
      if (out.length >= room || b.at_ms >= beforeMs) return out;
    }
    if (batches.length < BATCH_PAGE) return out;
    const last = batches[batches.length - 1]!;
    page = { lo: last.lo, id: last.id };
  }
}

/**
 * Deletes the `excess` oldest telemetry rows not yet sent (`proposed`, `pending-commit`): an
 * `in-flight` row may already be in the stream. Returns their seqs.
 */
export function dropOldestTelemetry(sql: OutboxStatements, log: OutboxLog, excess: number): Set<number> {
  const candidates: Array<{ seq: number; state: 'proposed' | 'pending-commit' }> = [];
  for (const state of ['proposed', 'pending-commit'] as const)
    for (const seq of sql.markByStateKind.pluck().all(state, 'telemetry', excess) as number[])
      candidates.push({ seq, state });
  let unmarked = 0;
  log.scan(log.openFrom(0), 1_024, false, ({ rec, st }) => {
    if (!st.marked && rec.kind === 'telemetry' && st.state === 'pending-commit') {
      candidates.push({ seq: rec.seq, state: 'pending-commit' });
      unmarked++;
    }
    return unmarked < excess;
  });
  const take = candidates.sort((a, b) => a.seq - b.seq).slice(0, excess);
  if (take.length === 0) return new Set();
  const seqs = JSON.stringify(take.map((c) => c.seq));
  sql.deleteLog.run(seqs);
  sql.deleteMark.run(seqs);
  for (const c of take) log.bump('telemetry', c.state, null);
  return new Set(take.map((c) => c.seq));
}
