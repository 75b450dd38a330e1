/**
 * Finding outbox rows in the stream by `Nats-Msg-Id`. Used before republishing a row whose
 * outcome is unknown (the committer) and by reconcile. One scan per subject, from the oldest
 * row's creation minus the clock-skew allowance. A telemetry row shares its ID
 * with other scouts' copies, which may be stored before this node ever attempted it: its scan
 * starts {@link SHARED_ID_LOOKBACK_MS} before its creation.
 */
import type { OutboxRow, StreamLocation } from './intent.js';
import type { StreamReader } from './ports.js';

/**
 * How far before a telemetry row's creation another scout's copy may have been stored: the owner
 * publishes at window close, the runner-up's backup after `telemetry.handoffHoldMs` (8 s); a
 * minute covers both with room for slow scouts.
 */
export const SHARED_ID_LOOKBACK_MS = 60_000;

/**
 * The earliest time the stream may hold `row`. A command from its creation, not this node's first
 * attempt: with consensus another endorser may have published it first (a takeover's first
 * attempt can come seconds after the peer's copy was stored).
 */
export function earliestStoreMs(row: OutboxRow): number {
  return row.kind === 'telemetry' ? row.createdAtMs - SHARED_ID_LOOKBACK_MS : row.createdAtMs;
}

/** Where each found row sits; rows absent from the map were not in the stream. */
export async function locateRows(
  reader: StreamReader,
  rows: readonly OutboxRow[],
  skewMs: number,
  signal?: AbortSignal,
  /** Scan from this wall-clock time instead of from each subject's oldest row. */
  fromMs?: number,
): Promise<Map<string, StreamLocation>> {
  const bySubject = new Map<string, OutboxRow[]>();
  for (const row of rows) {
    const list = bySubject.get(row.subject);
    if (list === undefined) bySubject.set(row.subject, [row]);
    else list.push(row);
  }
  const found = new Map<string, StreamLocation>();
  for (const [subject, list] of bySubject) {
    const sinceMs = fromMs ?? list.reduce((min, r) => Math.min(min, earliestStoreMs(r)), Infinity) - skewMs;
    const ids = new Set(list.map((r) => r.correlationId));
    const hits = await reader.findMsgIds(subject, Math.max(0, sinceMs), ids, signal);
    for (const [id, loc] of hits) found.set(id, loc);
  }
  return found;
}
