/**
 * The outbox log's reads that span many rows, inside the caller's read transaction: rows by
 * state, the oldest open row, and the rows behind a list of IDs. Rows with a mark are found on
 * the marks' (state, seq) index; rows without one in the log's open tail, from the watermark on.
 */
import type { IntentState, OutboxRow, RowKind } from '../core/intent.js';
import type { OutboxLog } from './outbox-log.js';
import type { OutboxStatements } from './outbox-statements.js';
import { decodeRow, type LogKey, type LogRecord, type RowState } from './row-codec.js';

/**
 * See `Outbox.listByState`. Rows without a mark are read from the log in seq order from the
 * watermark (from `afterSeq` for `committed`, which the watermark does not bound), their states
 * derived a chunk at a time.
 */
export function listByState(
  sql: OutboxStatements,
  log: OutboxLog,
  states: readonly IntentState[],
  limit: number,
  afterSeq: number,
): OutboxRow[] {
  const want = new Set(states);
  const marked = new Set<number>();
  for (const st of want)
    for (const seq of sql.marksByState.pluck().all(st, afterSeq, limit) as number[]) marked.add(seq);
  const out: OutboxRow[] = [];
  if (marked.size > 0) {
    const recs = sql.logIn.all(JSON.stringify([...marked])) as LogRecord[];
    for (const { rec, st } of log.locate(recs)) out.push(decodeRow(rec, st));
  }
  if (want.has('pending-commit') || want.has('in-flight') || want.has('committed')) {
    const from = want.has('committed') ? afterSeq : log.openFrom(afterSeq);
    const chunk = Math.min(Math.max(limit, 256), 4_096);
    let found = 0;
    if (want.has('pending-commit') || want.has('committed')) {
      log.scan<LogRecord>(from, chunk, true, ({ rec, st }) => {
        if (!st.marked && want.has(st.state)) {
          out.push(decodeRow(rec, st));
          found++;
        }
        return found < limit;
      });
    } else {
      // In-flight rows are few behind a backlog of pending ones (after an outage, ≈ a window in
      // 30,000). A row without a mark is in flight only if a claim batch covers it or its append
      // claimed it, so none lies past the last such row: derive states from the keys up to it,
      // and read in full only the rows that match.
      const upTo = (sql.lastClaimedFrom.get({ from }) as { hi: number | null }).hi ?? from;
      const states = new Map<number, RowState>();
      if (upTo > from)
        log.scan<LogKey>(from, Math.min(chunk, upTo - from), false, ({ rec, st }) => {
          if (rec.seq > upTo) return false;
          if (!st.marked && want.has(st.state)) states.set(rec.seq, st);
          return states.size < limit;
        });
      if (states.size > 0)
        for (const rec of sql.logIn.all(JSON.stringify([...states.keys()])) as LogRecord[])
          out.push(decodeRow(rec, states.get(rec.seq)!));
    }
  }
  out.sort((a, b) => a.seq - b.seq);
  return out.slice(0, limit);
}

/**
 * See `Outbox.oldestPendingCreatedAtMs`: the open marks on their index, and the rows without a
 * mark in the open tail. The oldest row of the tail is usually open itself, and then it is the
 * only one derived; otherwise the whole tail is.
 */
export function oldestOpenCreatedAtMs(sql: OutboxStatements, log: OutboxLog, kind?: RowKind): number | null {
  const marks = (
    (kind === undefined ? sql.oldestOpenMark.get() : sql.oldestOpenMarkByKind.get(kind)) as { t: number | null }
  ).t;
  let t = marks ?? Number.POSITIVE_INFINITY;
  const from = log.watermark();
  const oldest = (kind === undefined ? sql.oldestFrom.get(from) : sql.oldestFromByKind.get(from, kind)) as
    | (LogKey & { t: number | null })
    | undefined;
  if (oldest === undefined || oldest.t === null) return marks;
  const first = log.derive([oldest])[0]!;
  if (!first.marked && first.state !== 'committed') return Math.min(t, oldest.t);
  log.scan(from - 1, 4_096, false, ({ rec, st }) => {
    if (!st.marked && st.state !== 'committed' && (kind === undefined || rec.kind === kind))
      t = Math.min(t, rec.created_at_ms);
    return true;
  });
  return Number.isFinite(t) ? t : null;
}

/**
 * The log keys of `ids` that exist, in the given order, each once. `seqs` (parallel to `ids`,
 * from rows the caller read) are read as one range instead of a lookup per ID; an ID whose seq
 * is missing or names another row is looked up by ID.
 */
export function resolveIds(
  sql: OutboxStatements,
  ids: readonly string[],
  seqs?: ReadonlyArray<number | undefined>,
): LogKey[] {
  const found = new Map<string, LogKey>();
  const known = seqs?.filter((s): s is number => s !== undefined) ?? [];
  if (known.length > 0) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = 0;
    for (const s of known) {
      lo = Math.min(lo, s);
      hi = Math.max(hi, s);
    }
    const keys = (
      hi - lo + 1 <= 4 * known.length ? sql.keyRange.all(lo, hi) : sql.keyIn.all(JSON.stringify(known))
    ) as LogKey[];
    const bySeq = new Map(keys.map((k) => [k.seq, k]));
    ids.forEach((id, i) => {
      const k = bySeq.get(seqs![i] ?? -1);
      if (k !== undefined && k.correlation_id === id) found.set(id, k);
    });
  }
  const out: LogKey[] = [];
  for (const id of new Set(ids)) {
    const k = found.get(id) ?? (sql.keyById.get(id) as LogKey | undefined);
    if (k !== undefined) out.push(k);
  }
  return out;
}
