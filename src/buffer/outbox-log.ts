/**
 * The outbox as a log with positions: how a row's state is derived, and how a state change is
 * written, always inside the caller's transaction.
 *
 * A row's state is, in order: its mark (`outbox_marks`) when it has one; else committed when a
 * commit batch covers it (the first such batch gives its stream location); else in-flight when
 * its append claimed it or a claim batch covers it (one attempt each); else pending-commit. A row
 * with a mark is only ever changed through its mark; a row without one is claimed and committed
 * by batch records, one per claim or commit of many rows, and gets a mark the first time it needs
 * a state no batch can say (put back, dead, expired, rejected). `committed` is final, so every
 * row without a mark below the watermark (`settled_below`) is committed: the scans for open rows
 * start there.
 */
import type { Database } from 'better-sqlite3';
import type { IntentState, NewOutboxRow } from '../core/intent.js';
import { MAX_BATCH_SPAN, packRuns, spanOf, toBatches, unpackRuns, type SeqPair } from '../core/seq-runs.js';
import { SETTLED_BELOW, type OutboxStatements } from './outbox-statements.js';
import {
  appendedState,
  encodeRow,
  type LogKey,
  type MarkRecord,
  markParams,
  markState,
  type RowState,
} from './row-codec.js';

/** A batch record as stored. */
interface BatchRecord {
  id: number;
  what: 'claim' | 'commit';
  lo: number;
  hi: number;
  at_ms: number;
  stream: string | null;
  runs: Buffer;
}

/** A row and its state, as a transition takes it. */
export interface Located<R extends LogKey = LogKey> {
  rec: R;
  st: RowState;
}

/** Derives and changes row states on one connection. Owned by `SqliteOutbox` and its appender. */
export class OutboxLog {
  private readonly deltas = new Map<string, number>();

  constructor(
    private readonly db: Database,
    private readonly sql: OutboxStatements,
  ) {}

  /** The state of each of `rows` (log records of this file, any order, no duplicates). */
  derive(rows: readonly LogKey[]): RowState[] {
    const out = rows.map(appendedState);
    if (rows.length === 0) return out;
    const at = new Map<number, number>();
    for (let i = 0; i < rows.length; i++) at.set(rows[i]!.seq, i);
    const seqs = rows.map((r) => r.seq).sort((a, b) => a - b);
    const batches = new Map<number, BatchRecord>();
    const marks: MarkRecord[] = [];
    for (const { lo, hi, n } of clusters(seqs)) {
      const dense = hi - lo + 1 <= 8 * n;
      const ms = (
        dense
          ? this.sql.marksRange.all(lo, hi)
          : this.sql.marksIn.all(JSON.stringify(seqs.filter((s) => s >= lo && s <= hi)))
      ) as MarkRecord[];
      marks.push(...ms);
      for (const b of this.sql.batchesNear.all({ from: lo - MAX_BATCH_SPAN, lo, hi }) as BatchRecord[])
        batches.set(b.id, b);
    }
    for (const b of [...batches.values()].sort((x, y) => x.id - y.id)) {
      for (const run of unpackRuns(b.runs)) {
        for (let k = 0; k < run.length; k++) {
          const i = at.get(run.row + k);
          if (i !== undefined) apply(out[i]!, b, run.stream === 0 ? null : run.stream + k);
        }
      }
    }
    for (const m of marks) {
      const i = at.get(m.seq);
      if (i !== undefined) out[i] = markState(m);
    }
    return out;
  }

  /**
   * Appends `row` (claimed by its append when `claimedAt` is set: in-flight, one attempt); a
   * proposed row gets its mark. Returns its seq, or null for a duplicate correlation ID.
   */
  insert(row: NewOutboxRow, claimedAt: number | null): number | null {
    const r = this.sql.insert.run(encodeRow(row, claimedAt));
    if (r.changes !== 1) return null;
    const seq = Number(r.lastInsertRowid);
    if (row.state === 'proposed') this.sql.insertMark.run(seq, row.kind, 'proposed', row.createdAtMs);
    this.bump(row.kind, null, claimedAt === null ? row.state : 'in-flight');
    return seq;
  }

  /** `rows` with their states. */
  locate<R extends LogKey>(rows: readonly R[]): Array<Located<R>> {
    const st = this.derive(rows);
    return rows.map((rec, i) => ({ rec, st: st[i]! }));
  }

  /** Counts a row of `kind` leaving `from` (null: new) for `to` (null: deleted). Written by {@link flush}. */
  bump(kind: string, from: IntentState | null, to: IntentState | null, n = 1): void {
    if (from === to || n === 0) return;
    if (from !== null) this.add(kind, from, -n);
    if (to !== null) this.add(kind, to, n);
  }

  private add(kind: string, state: string, n: number): void {
    const k = `${kind}\u0000${state}`;
    this.deltas.set(k, (this.deltas.get(k) ?? 0) + n);
  }

  /** Writes the counts bumped since the last flush. Call before the transaction ends. */
  flush(): void {
    for (const [k, n] of this.deltas) {
      if (n === 0) continue;
      const [kind, state] = k.split('\u0000') as [string, string];
      this.sql.addCount.run(kind, state, n);
    }
    this.deltas.clear();
  }

  /** Forgets unflushed counts (the transaction rolled back). */
  discard(): void {
    this.deltas.clear();
  }

  /** Sets a row's whole state in its mark (creating it), counting the change. */
  setMark(row: Located, next: RowState): void {
    this.sql.upsertMark.run(markParams(row.rec.seq, row.rec.kind, next));
    this.bump(row.rec.kind, row.st.state, next.state);
    row.st = { ...next, marked: true };
  }

  /**
   * Commits `items` not committed yet, keeping the first location of a row already committed.
   * Rows without a mark go into one commit batch per stream; marked rows have their mark updated.
   * Returns how many rows moved.
   */
  commit(items: ReadonlyArray<Located & { stream: string; streamSeq: number }>, atMs: number): number {
    const byStream = new Map<string, SeqPair[]>();
    const seen = new Set<number>();
    const moves = new Tally();
    let moved = 0;
    for (const it of items) {
      if (it.st.state === 'committed' || seen.has(it.rec.seq)) continue;
      seen.add(it.rec.seq);
      moved++;
      const located = { stream: it.stream, streamSeq: it.streamSeq, committedAtMs: atMs, updatedAtMs: atMs };
      if (it.st.marked) {
        this.setMark(it, { ...it.st, state: 'committed', ...located });
        continue;
      }
      moves.add(it.rec.kind, it.st.state);
      it.st = { ...it.st, state: 'committed', ...located };
      const pairs = byStream.get(it.stream) ?? [];
      pairs.push({ row: it.rec.seq, stream: it.streamSeq });
      byStream.set(it.stream, pairs);
    }
    moves.each((kind, from, n) => this.bump(kind, from, 'committed', n));
    for (const [stream, pairs] of byStream) this.writeBatches('commit', pairs, atMs, stream);
    if (moved > 0) this.advanceWatermark(items.map((it) => it.rec.seq));
    return moved;
  }

  /** Claims `items` (all of them: the caller checked their states): in-flight, one more attempt. */
  claim(items: readonly Located[], atMs: number): void {
    const pairs: SeqPair[] = [];
    const moves = new Tally();
    const seen = new Set<number>();
    for (const it of items) {
      if (seen.has(it.rec.seq)) continue;
      seen.add(it.rec.seq);
      const next: RowState = {
        ...it.st,
        state: 'in-flight',
        attempts: it.st.attempts + 1,
        firstAttemptAtMs: it.st.firstAttemptAtMs ?? atMs,
        lastAttemptAtMs: atMs,
        updatedAtMs: atMs,
      };
      if (it.st.marked) {
        this.setMark(it, next);
        continue;
      }
      moves.add(it.rec.kind, it.st.state);
      it.st = next;
      pairs.push({ row: it.rec.seq, stream: 0 });
    }
    moves.each((kind, from, n) => this.bump(kind, from, 'in-flight', n));
    this.writeBatches('claim', pairs, atMs, null);
  }

  private writeBatches(what: 'claim' | 'commit', pairs: readonly SeqPair[], at: number, stream: string | null): void {
    if (pairs.length === 0) return;
    for (const runs of toBatches(pairs)) {
      const { lo, hi } = spanOf(runs);
      const packed = packRuns(runs);
      this.sql.insertBatch.run({
        what,
        lo,
        hi,
        at,
        stream,
        runs: Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength),
      });
    }
  }

  /** Every row without a mark below this is committed. */
  watermark(): number {
    const r = this.sql.getMeta.get(SETTLED_BELOW) as { value: number } | undefined;
    return r?.value ?? 0;
  }

  /**
   * Moves the watermark past the settled rows after it. `settled` (rows just committed, or
   * committed already) lets it skip, without a read, a contiguous run of them that starts at or
   * before the watermark; past that it derives the next rows, a few when the next one is open.
   */
  advanceWatermark(settled: readonly number[] = []): void {
    const from = this.watermark();
    let w = from;
    if (settled.length > 0) {
      const sorted = [...settled].sort((a, b) => a - b);
      let i = sorted.indexOf(w);
      if (i >= 0) {
        while (i + 1 < sorted.length && sorted[i + 1] === sorted[i]! + 1) i++;
        w = sorted[i]! + 1;
      }
    }
    let chunk = 16;
    for (let round = 0; round < 12; round++) {
      const rows = this.sql.keyAfter.all(w - 1, chunk) as LogKey[];
      if (rows.length === 0) break;
      const st = this.derive(rows);
      const open = st.findIndex((s) => !s.marked && s.state !== 'committed');
      if (open >= 0) {
        w = rows[open]!.seq;
        break;
      }
      w = rows[rows.length - 1]!.seq + 1;
      if (rows.length < chunk) break;
      chunk = Math.min(chunk * 4, 4_096);
    }
    if (w !== from) this.sql.setMeta.run(SETTLED_BELOW, w);
  }

  /**
   * Visits the rows after `afterSeq` in seq order with their states, `chunk` rows per read, while
   * `visit` returns true.
   */
  scan<R extends LogKey>(afterSeq: number, chunk: number, full: boolean, visit: (row: Located<R>) => boolean): void {
    const read = full ? this.sql.logAfter : this.sql.keyAfter;
    for (let cursor = afterSeq; ; ) {
      const rows = read.all(cursor, chunk) as R[];
      if (rows.length === 0) return;
      const st = this.derive(rows);
      for (let i = 0; i < rows.length; i++) if (!visit({ rec: rows[i]!, st: st[i]! })) return;
      if (rows.length < chunk) return;
      cursor = rows[rows.length - 1]!.seq;
    }
  }

  /** Where the scans for rows without a mark in an open state may start (exclusive). */
  openFrom(afterSeq: number): number {
    return Math.max(afterSeq, this.watermark() - 1);
  }

  /** The database, for transactions. */
  get database(): Database {
    return this.db;
  }
}

// Rows counted by kind and state, to bump the counts once per pair.
class Tally {
  private readonly n = new Map<string, Map<IntentState, number>>();

  add(kind: string, state: IntentState): void {
    const byState = this.n.get(kind) ?? new Map<IntentState, number>();
    byState.set(state, (byState.get(state) ?? 0) + 1);
    this.n.set(kind, byState);
  }

  each(fn: (kind: string, state: IntentState, n: number) => void): void {
    for (const [kind, byState] of this.n) for (const [state, n] of byState) fn(kind, state, n);
  }
}

// A batch's effect on the state of one row it covers, applied in batch order.
function apply(s: RowState, b: BatchRecord, streamSeq: number | null): void {
  if (b.what === 'claim') {
    s.attempts++;
    s.firstAttemptAtMs ??= b.at_ms;
    s.lastAttemptAtMs = b.at_ms;
    s.updatedAtMs = Math.max(s.updatedAtMs, b.at_ms);
    if (s.state !== 'committed') s.state = 'in-flight';
    return;
  }
  if (s.state === 'committed') return;
  s.state = 'committed';
  s.stream = b.stream;
  s.streamSeq = streamSeq;
  s.committedAtMs = b.at_ms;
  s.updatedAtMs = Math.max(s.updatedAtMs, b.at_ms);
}

// Sorted `seqs` in groups no wider than a batch's span apart, so each group is one index range.
function clusters(seqs: readonly number[]): Array<{ lo: number; hi: number; n: number }> {
  const out: Array<{ lo: number; hi: number; n: number }> = [];
  for (const s of seqs) {
    const last = out[out.length - 1];
    if (last !== undefined && s - last.hi <= MAX_BATCH_SPAN) {
      last.hi = s;
      last.n++;
    } else out.push({ lo: s, hi: s, n: 1 });
  }
  return out;
}
