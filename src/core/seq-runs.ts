/**
 * Runs of outbox positions, the packed form of a batch record (`outbox_batches.runs`): the rows
 * a claim or a commit covered, and for a commit the stream sequence of each. A run is
 * `[row, stream, length]`: rows `row … row + length − 1`, stored at stream sequences
 * `stream … stream + length − 1` (0 for a claim). One publisher sends rows in insertion order
 * and JetStream numbers them in arrival order, so a batch of 512 PubAcks is usually one run, or
 * a few when other publishers interleave. Packed as little-endian float64 triples (every
 * sequence is an integer below 2^53). Pure.
 */
import { float64sFromLE } from './packed-column.js';

/** Rows `row … row + length − 1`, at stream sequences `stream …` (0 when none). */
export interface SeqRun {
  readonly row: number;
  readonly stream: number;
  readonly length: number;
}

/** One row of a batch: its outbox position and, for a commit, its stream sequence (else 0). */
export interface SeqPair {
  readonly row: number;
  readonly stream: number;
}

/**
 * Widest span (last row − first row) of one batch record. A batch wider than this is split, so
 * that the records covering a row are found by one bounded index range on their first row.
 */
export const MAX_BATCH_SPAN = 4_096;

/**
 * Groups `pairs` into batches of runs: sorted by row, duplicates of a row dropped (the first
 * kept), each batch spanning at most {@link MAX_BATCH_SPAN} rows.
 */
export function toBatches(pairs: readonly SeqPair[]): SeqRun[][] {
  const sorted = [...pairs].sort((a, b) => a.row - b.row);
  const batches: SeqRun[][] = [];
  let runs: SeqRun[] = [];
  let first = 0;
  let run: { row: number; stream: number; length: number } | null = null;
  for (const p of sorted) {
    if (run !== null && p.row < run.row + run.length) continue; // a duplicate row
    if (run !== null && p.row - first > MAX_BATCH_SPAN) {
      runs.push(run);
      batches.push(runs);
      runs = [];
      run = null;
    }
    if (run === null) {
      first = p.row;
      run = { row: p.row, stream: p.stream, length: 1 };
      continue;
    }
    const next =
      run.row + run.length === p.row && (run.stream === 0 ? p.stream === 0 : run.stream + run.length === p.stream);
    if (next) run.length++;
    else {
      runs.push(run);
      run = { row: p.row, stream: p.stream, length: 1 };
    }
  }
  if (run !== null) runs.push(run);
  if (runs.length > 0) batches.push(runs);
  return batches;
}

/** The packed bytes of `runs`: 24 bytes per run. */
export function packRuns(runs: readonly SeqRun[]): Uint8Array {
  const f = new Float64Array(runs.length * 3);
  runs.forEach((r, i) => {
    f[i * 3] = r.row;
    f[i * 3 + 1] = r.stream;
    f[i * 3 + 2] = r.length;
  });
  const bytes = new Uint8Array(f.buffer);
  // Big-endian hosts: store little-endian, as float64sFromLE reads.
  if (new Uint8Array(new Float64Array([1]).buffer)[7] !== 0x3f) {
    for (let i = 0; i < bytes.length; i += 8) bytes.subarray(i, i + 8).reverse();
  }
  return bytes;
}

/** The runs packed in `bytes`; throws on a length that is not a multiple of 24. */
export function unpackRuns(bytes: Uint8Array): SeqRun[] {
  if (bytes.length % 24 !== 0) throw new Error(`runs: ${bytes.length} bytes is not a multiple of 24`);
  const f = float64sFromLE(bytes);
  const out: SeqRun[] = [];
  for (let i = 0; i < f.length; i += 3) out.push({ row: f[i]!, stream: f[i + 1]!, length: f[i + 2]! });
  return out;
}

/** The first and last row of `runs` (which must not be empty). */
export function spanOf(runs: readonly SeqRun[]): { lo: number; hi: number } {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const r of runs) {
    lo = Math.min(lo, r.row);
    hi = Math.max(hi, r.row + r.length - 1);
  }
  return { lo, hi };
}
