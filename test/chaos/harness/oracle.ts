/**
 * The oracle: after a scenario, what was attempted and acknowledged is held against what the
 * stream holds. `judge()` is a pure function; `readStream()` and `readOutbox()` gather its
 * inputs (the stream through JetStreamReader.scanAll, the outbox from its SQLite file).
 *
 * - lost: acknowledged (202 + correlation ID) but absent from the stream;
 * - duplicated: a Nats-Msg-Id stored more than once, or one attempt stored under two IDs;
 * - unexpected: stored but never attempted, stored although the attempt was refused or
 *   rejected, or stored under another ID than the one acknowledged;
 * - recovered: attempts whose outcome was unknown to the client, found in the stream;
 * - per-proposer order: stream order inversions of one proposer's sequential attempts
 *   (reported, not a failure: replay after a failure may reorder).
 * The attempts of one keyed intent (several sidecars asked with one `Idempotency-Key`) are one
 * intent for all of these (order left aside); `judgeKeyed()` adds what such an intent must show: one stored copy,
 * every attempt acknowledged under that copy's ID.
 */
import { HEADER } from '../../../src/core/command-message.js';
import { INTENT_STATES, type IntentState } from '../../../src/core/intent.js';
import { SqliteOutbox } from '../../../src/buffer/index.js';
import { NatsSchema } from '../../../src/config/schema.js';
import { JetStreamReader } from '../../../src/nats/jetstream-reader.js';
import { NatsConnector } from '../../../src/nats/nats-connector.js';
import type { Attempt, WorkloadPayload } from './workload.js';

/** One stored message, as the oracle sees it. */
export interface StreamEntry {
  stream: string;
  seq: number;
  msgId: string | null;
  /** `Net-Sync-Correlation-Id` header. */
  correlationId: string | null;
  /** The workload key from the payload, or null when the body is not a workload intent. */
  key: string | null;
  /** Peer IDs in the `Net-Sync-Endorsers` header (empty without consensus). */
  endorsers: string[];
  timeMs: number;
}

/** One outbox row, as the oracle sees it. */
export interface OutboxEntry {
  correlationId: string;
  state: IntentState;
  stream: string | null;
  seq: number | null;
}

/** The verdict. The scenario asserts lost = duplicated = unexpected = 0. */
export interface OracleReport {
  attempts: number;
  acked: number;
  unknown: number;
  refused: number;
  rejected: number;
  /** Distinct workload intents in the stream. */
  committed: number;
  lost: number;
  duplicated: number;
  unexpected: number;
  recovered: number;
  orderViolations: number;
  /** Up to 20 examples per finding, each naming the ID. */
  examples: { lost: string[]; duplicated: string[]; unexpected: string[] };
}

const MAX_EXAMPLES = 20;

/** Pure: judges `attempts` against the stream `entries`. */
export function judge(attempts: readonly Attempt[], entries: readonly StreamEntry[]): OracleReport {
  const byKey = attemptsByKey(attempts);
  const examples: OracleReport['examples'] = { lost: [], duplicated: [], unexpected: [] };
  const note = (list: string[], s: string): void => {
    if (list.length < MAX_EXAMPLES) list.push(s);
  };
  const idCount = new Map<string, number>();
  const idsOfKey = new Map<string, Set<string>>();
  let duplicated = 0;
  let unexpected = 0;
  for (const e of entries) {
    const id = e.msgId ?? `(no msg id, ${e.stream}#${e.seq})`;
    const seen = (idCount.get(id) ?? 0) + 1;
    idCount.set(id, seen);
    if (seen > 1) {
      duplicated++;
      note(examples.duplicated, `${id} stored ${seen} times (latest ${e.stream}#${e.seq})`);
      continue;
    }
    const why = unexpectedReason(e, e.key === null ? [] : (byKey.get(e.key) ?? []));
    if (why !== null) {
      unexpected++;
      note(examples.unexpected, `${id} at ${e.stream}#${e.seq} (key ${e.key ?? '-'}): ${why}`);
      continue;
    }
    const ids = idsOfKey.get(e.key!) ?? new Set<string>();
    ids.add(id);
    idsOfKey.set(e.key!, ids);
    if (ids.size > 1) {
      duplicated++;
      note(examples.duplicated, `attempt ${e.key} stored under ${[...ids].join(', ')}`);
    }
  }
  let lost = 0;
  let recovered = 0;
  for (const a of attempts) {
    const ids = idsOfKey.get(a.key);
    if (a.outcome === 'acked' && !(ids?.has(a.correlationId!) ?? false)) {
      lost++;
      note(examples.lost, `${a.correlationId} (attempt ${a.key}, acked at ${new Date(a.doneAtMs ?? 0).toISOString()})`);
    }
    if ((a.outcome === 'unknown' || a.outcome === 'pending') && ids !== undefined) recovered++;
  }
  const t = { acked: 0, unknown: 0, refused: 0, rejected: 0 };
  for (const a of attempts) if (a.outcome !== 'pending') t[a.outcome]++;
  return {
    attempts: attempts.length,
    ...t,
    unknown: t.unknown + attempts.filter((a) => a.outcome === 'pending').length,
    committed: idsOfKey.size,
    lost,
    duplicated,
    unexpected,
    recovered,
    orderViolations: orderViolations(attempts, entries),
    examples,
  };
}

function unexpectedReason(e: StreamEntry, attempts: readonly Attempt[]): string | null {
  if (attempts.length === 0) return 'never attempted';
  if (attempts.every((a) => a.outcome === 'refused' || a.outcome === 'rejected'))
    return attempts.map((a) => `the attempt was ${a.outcome} (${a.error ?? a.httpStatus})`).join('; ');
  if (e.msgId === null) return 'no Nats-Msg-Id';
  if (e.correlationId !== e.msgId) return `Net-Sync-Correlation-Id ${e.correlationId} differs from Nats-Msg-Id`;
  // Keyed attempts answered with two IDs are one key stored twice (duplicated), not unexpected.
  const acked = attempts.filter((a) => a.outcome === 'acked');
  if (acked.length > 0 && !acked.some((a) => a.correlationId === e.msgId))
    return `acknowledged as ${acked.map((a) => a.correlationId).join(', ')}`;
  return null;
}

function attemptsByKey(attempts: readonly Attempt[]): Map<string, Attempt[]> {
  const byKey = new Map<string, Attempt[]>();
  for (const a of attempts) {
    const list = byKey.get(a.key);
    if (list === undefined) byKey.set(a.key, [a]);
    else list.push(a);
  }
  return byKey;
}

/** What the keyed intents of a run show; `problems` must be empty. */
export interface KeyedReport {
  /** Keyed intents (distinct keys) attempted. */
  intents: number;
  /** Attempts of keyed intents (one per sidecar asked). */
  attempts: number;
  /** Keyed intents whose every attempt was acknowledged with one and the same correlation ID. */
  sameIdEverywhere: number;
  /** Keyed intents stored exactly once, under that ID. */
  storedOnce: number;
  /** Up to 20 per kind, each naming the key. */
  problems: string[];
}

/**
 * Pure: every keyed intent must have all its attempts acknowledged (202) with the same
 * correlation ID, and be stored exactly once, under that ID.
 */
export function judgeKeyed(attempts: readonly Attempt[], entries: readonly StreamEntry[]): KeyedReport {
  const keyed = attemptsByKey(attempts.filter((a) => a.idempotencyKey !== null));
  const copies = new Map<string, StreamEntry[]>();
  for (const e of entries) {
    if (e.key === null || !keyed.has(e.key)) continue;
    copies.set(e.key, [...(copies.get(e.key) ?? []), e]);
  }
  const report: KeyedReport = { intents: keyed.size, attempts: 0, sameIdEverywhere: 0, storedOnce: 0, problems: [] };
  for (const [key, list] of keyed) {
    report.attempts += list.length;
    const ids = new Set(list.map((a) => a.correlationId));
    const allAcked = list.every((a) => a.outcome === 'acked');
    if (allAcked && ids.size === 1) report.sameIdEverywhere++;
    else if (report.problems.length < MAX_EXAMPLES)
      report.problems.push(
        `${key}: answered ` +
          list.map((a) => `${a.target} ${a.outcome} ${a.correlationId ?? a.error ?? a.httpStatus}`).join(', '),
      );
    const stored = copies.get(key) ?? [];
    const id = list.find((a) => a.correlationId !== null)?.correlationId ?? null;
    if (stored.length === 1 && stored[0]!.msgId === id) report.storedOnce++;
    else if (report.problems.length < MAX_EXAMPLES)
      report.problems.push(
        `${key}: stored ${stored.length} times ` +
          `(${stored.map((e) => `${e.msgId}@${e.seq}`).join(', ')}), acknowledged as ${id}`,
      );
  }
  return report;
}

// Per proposer, first stored copies in attempt order: count where the stream order goes back.
// Keyed intents are left out: a scenario posts them at once, not one after another.
function orderViolations(attempts: readonly Attempt[], entries: readonly StreamEntry[]): number {
  const first = new Map<string, StreamEntry>();
  for (const e of entries) if (e.key !== null && !first.has(e.key)) first.set(e.key, e);
  const byProposer = new Map<string, Array<{ n: number; e: StreamEntry }>>();
  for (const a of attempts) {
    const e = first.get(a.key);
    if (e === undefined || a.idempotencyKey !== null) continue; // keyed intents are posted concurrently
    const list = byProposer.get(a.proposer) ?? [];
    list.push({ n: a.n, e });
    byProposer.set(a.proposer, list);
  }
  let violations = 0;
  for (const list of byProposer.values()) {
    list.sort((x, y) => x.n - y.n);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!.e;
      const cur = list[i]!.e;
      if (prev.stream === cur.stream && cur.seq < prev.seq) violations++;
    }
  }
  return violations;
}

/** Where the outbox and the stream disagree (after `net-sync reconcile`). Empty = equal. */
export function compareOutbox(rows: readonly OutboxEntry[], entries: readonly StreamEntry[]): string[] {
  const diffs: string[] = [];
  const stored = new Map<string, StreamEntry>();
  for (const e of entries) if (e.msgId !== null && !stored.has(e.msgId)) stored.set(e.msgId, e);
  const inOutbox = new Set<string>();
  for (const r of rows) {
    inOutbox.add(r.correlationId);
    const e = stored.get(r.correlationId);
    if (r.state !== 'committed')
      diffs.push(
        `${r.correlationId}: outbox state ${r.state}` +
          (e === undefined ? '' : `, stream has it at ${e.stream}#${e.seq}`),
      );
    else if (e === undefined)
      diffs.push(`${r.correlationId}: committed at ${r.stream}#${r.seq} in the outbox, absent from the stream`);
    else if (e.stream !== r.stream || e.seq !== r.seq)
      diffs.push(`${r.correlationId}: outbox says ${r.stream}#${r.seq}, stream has ${e.stream}#${e.seq}`);
  }
  for (const [id, e] of stored)
    if (!inOutbox.has(id)) diffs.push(`${id}: in the stream at ${e.stream}#${e.seq}, not in any outbox`);
  return diffs;
}

const decoder = new TextDecoder();

/** Parses a stored message into a StreamEntry (the workload key from the payload). */
export function toEntry(m: {
  stream: string;
  seq: number;
  msgId: string | undefined;
  headers: Record<string, string>;
  data: Uint8Array;
  timeMs: number;
}): StreamEntry {
  let key: string | null = null;
  try {
    const body = JSON.parse(decoder.decode(m.data)) as { payload?: Partial<WorkloadPayload> };
    key = typeof body.payload?.chaos?.key === 'string' ? body.payload.chaos.key : null;
  } catch {
    // not JSON: unexpected by construction
  }
  const endorsers = (m.headers[HEADER.endorsers] ?? '').split(',').filter((s) => s !== '');
  return {
    stream: m.stream,
    seq: m.seq,
    msgId: m.msgId ?? null,
    correlationId: m.headers[HEADER.correlationId] ?? null,
    key,
    endorsers,
    timeMs: m.timeMs,
  };
}

/** Scans every message on `subject` stored since `sinceMs` (a direct connection, no proxy). */
export async function readStream(
  servers: string[],
  subject = 'root.solar.command.>',
  sinceMs = 0,
  timeoutMs = 30_000,
): Promise<StreamEntry[]> {
  const connector = new NatsConnector({ config: NatsSchema.parse({ servers, name: 'net-sync-chaos-oracle' }) });
  await connector.start();
  try {
    await connector.waitConnected(timeoutMs);
    const reader = new JetStreamReader({ connector });
    const out: StreamEntry[] = [];
    const signal = AbortSignal.timeout(timeoutMs);
    for await (const m of reader.scanAll(subject, sinceMs, signal)) out.push(toEntry(m));
    return out;
  } finally {
    await connector.stop();
  }
}

/** Every command row of the outbox at `path` (open it only while its sidecar is stopped). */
export async function readOutbox(path: string): Promise<OutboxEntry[]> {
  const outbox = SqliteOutbox.open({ path });
  try {
    const out: OutboxEntry[] = [];
    for (let after = 0; ; ) {
      const page = outbox.listByState(INTENT_STATES, 10_000, after);
      for (const r of page)
        if (r.kind === 'command')
          out.push({ correlationId: r.correlationId, state: r.state, stream: r.stream, seq: r.streamSeq });
      if (page.length < 10_000) return out;
      after = page[page.length - 1]!.seq;
    }
  } finally {
    await outbox.close();
  }
}
