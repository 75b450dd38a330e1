/**
 * Finding outbox rows in the stream by `Nats-Msg-Id`. Used before republishing a row whose
 * outcome is unknown (the committer) and by reconcile. One scan per subject, from the oldest
 * row's first attempt (or creation) minus the clock-skew allowance.
 */
import type { OutboxRow, StreamLocation } from './intent.js';
import type { StreamReader } from './ports.js';

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
    const sinceMs = fromMs ?? list.reduce((min, r) => Math.min(min, r.firstAttemptAtMs ?? r.createdAtMs), Infinity) - skewMs;
    const ids = new Set(list.map((r) => r.correlationId));
    const hits = await reader.findMsgIds(subject, Math.max(0, sinceMs), ids, signal);
    for (const [id, loc] of hits) found.set(id, loc);
  }
  return found;
}
