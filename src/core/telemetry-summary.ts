/**
 * Telemetry summaries as published to JetStream: the body (the contract fields of docs/contracts.md
 * plus extras), the deterministic `Nats-Msg-Id`, the subject a metric maps to, and the outbox row.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { HEADER } from './command-message.js';
import type { NewOutboxRow } from './intent.js';
import { SCHEMA_FILE, type SchemaFile } from './schema-names.js';
import { MAX_SUBJECT_DEPTH } from './subject.js';
import { SKETCH_RELATIVE_ACCURACY, tagsKey, type WindowStats } from './telemetry-window.js';

/** Version of the summary body and its `Net-Sync-Schema-Version` header. */
export const TELEMETRY_SCHEMA_VERSION = 1;

/** What identifies one summary: the same key on two scouts means the same points. */
export interface SummaryKey {
  metric: string;
  /** Peer ID of the agent host that emitted the points. */
  origin: string;
  /** The origin's epoch (start time, ms). */
  epoch: number;
  tags: Record<string, string>;
  windowStart: number;
  windowMs: number;
  part: number;
  /** Points that were late or early at the origin (filed in the window they were sent in). */
  late: boolean;
  /**
   * Set to the scout's peer ID for points that reached that scout after the window closed.
   * It enters the message ID, so such a summary is never deduped against another scout's.
   */
  straggler?: string;
}

/**
 * The JSON body on `root.solar.telemetry.*`. The contract fields (docs/contracts.md) are `metric, origin,
 * windowStart, windowEnd, count, sum, min, max, mean, p50, p95, p99, tags`; the rest are extras.
 * Times are ms since epoch; `windowEnd` is exclusive.
 */
export interface TelemetrySummary extends WindowStats {
  schemaVersion: number;
  metric: string;
  origin: string;
  windowStart: number;
  windowEnd: number;
  tags: Record<string, string>;
  epoch: number;
  part: number;
  late: boolean;
  straggler: boolean;
  /** Relative accuracy of p50, p95, p99 (DDSketch guarantee). */
  relativeAccuracy: number;
}

/** Builds the body with a fixed key order, so equal inputs give equal bytes. */
export function buildSummary(key: SummaryKey, stats: WindowStats): TelemetrySummary {
  return {
    schemaVersion: TELEMETRY_SCHEMA_VERSION,
    metric: key.metric,
    origin: key.origin,
    windowStart: key.windowStart,
    windowEnd: key.windowStart + key.windowMs,
    count: stats.count,
    sum: stats.sum,
    min: stats.min,
    max: stats.max,
    mean: stats.mean,
    p50: stats.p50,
    p95: stats.p95,
    p99: stats.p99,
    tags: sortedTags(key.tags),
    firstTs: stats.firstTs,
    lastTs: stats.lastTs,
    epoch: key.epoch,
    part: key.part,
    late: key.late,
    straggler: key.straggler !== undefined,
    relativeAccuracy: SKETCH_RELATIVE_ACCURACY,
  };
}

const encoder = new TextEncoder();

/**
 * `Nats-Msg-Id` of a summary: `tlm-<windowStart>-<32 hex>`, the hex being SHA-256 of (origin,
 * epoch, metric, tags, windowMs, part, late, straggler scout). Every scout derives the same ID
 * for the same window, so JetStream keeps one copy.
 */
export function summaryMsgId(key: SummaryKey): string {
  const text = [
    key.origin,
    key.epoch,
    key.metric,
    tagsKey(key.tags),
    key.windowMs,
    key.part,
    key.late ? 'late' : '',
    key.straggler ?? '',
  ].join('\n');
  return `tlm-${key.windowStart}-${bytesToHex(sha256(encoder.encode(text))).slice(0, 32)}`;
}

/** Deterministic W3C traceparent derived from a message ID (a summary has no agent request). */
export function derivedTraceparent(msgId: string): string {
  const hex = bytesToHex(sha256(encoder.encode(`traceparent\n${msgId}`)));
  return `00-${hex.slice(0, 32)}-${hex.slice(32, 48)}-01`;
}

const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * Maps a metric to its subject `<prefix>.telemetry.<area>.<kind>`. `map` entries win: exact
 * metric names, or `area.*` for every metric under `area.`; values are the 1-3 tokens after
 * `telemetry.`. Default: a 2- or 3-token metric is used as is (`sentiment.delta` →
 * `root.solar.telemetry.sentiment.delta`), a 1-token one goes under `misc.`, and tokens past
 * the third are joined with `_` into the third, so the depth after the prefix stays ≤ 4.
 */
export function telemetrySubject(metric: string, prefix: string, map: Readonly<Record<string, string>> = {}): string {
  const mapped = map[metric] ?? wildcardMatch(metric, map);
  if (mapped !== undefined) return `${prefix}.telemetry.${mapped}`;
  const tokens = metric.split('.');
  const rest =
    tokens.length === 1
      ? ['misc', tokens[0]!]
      : tokens.length <= MAX_SUBJECT_DEPTH - 1
        ? tokens
        : [tokens[0]!, tokens[1]!, tokens.slice(2).join('_')];
  return `${prefix}.telemetry.${rest.join('.')}`;
}

function wildcardMatch(metric: string, map: Readonly<Record<string, string>>): string | undefined {
  let best: string | undefined;
  let bestLen = -1;
  for (const [pattern, target] of Object.entries(map)) {
    if (!pattern.endsWith('.*')) continue;
    const stem = pattern.slice(0, -1);
    if (metric.startsWith(stem) && stem.length > bestLen) {
      best = target;
      bestLen = stem.length;
    }
  }
  return best;
}

/** Error message for a bad subject-map target (1-3 tokens after `telemetry.`), or null. */
export function checkSubjectMapTarget(target: string): string | null {
  const tokens = target.split('.');
  if (tokens.length < 1 || tokens.length > MAX_SUBJECT_DEPTH - 1)
    return `must be 1-${MAX_SUBJECT_DEPTH - 1} tokens after "telemetry."`;
  return tokens.every((t) => TOKEN.test(t)) ? null : `tokens must match ${TOKEN.source}`;
}

/** Inputs of {@link buildTelemetryRow}. */
export interface TelemetryRowInput {
  subject: string;
  msgId: string;
  body: unknown;
  /** Peer ID for `Net-Sync-Origin`: the points' origin for summaries, this node for health. */
  origin: string;
  /** This node (the scout that summarised). */
  publisher: string;
  createdAtMs: number;
  /** `Net-Sync-Schema` of the body. Default: a summary's. */
  schema?: SchemaFile;
}

/** The outbox row (kind `telemetry`, `pending-commit`) for a summary or a health report. */
export function buildTelemetryRow(input: TelemetryRowInput): NewOutboxRow {
  return {
    correlationId: input.msgId,
    subject: input.subject,
    body: encoder.encode(JSON.stringify(input.body)),
    headers: {
      [HEADER.correlationId]: input.msgId,
      [HEADER.schemaVersion]: String(TELEMETRY_SCHEMA_VERSION),
      [HEADER.origin]: input.origin,
      [HEADER.traceparent]: derivedTraceparent(input.msgId),
      [HEADER.kind]: 'telemetry',
      [HEADER.schema]: input.schema ?? SCHEMA_FILE.telemetrySummary,
      'Net-Sync-Scout': input.publisher,
    },
    kind: 'telemetry',
    state: 'pending-commit',
    createdAtMs: input.createdAtMs,
  };
}

function sortedTags(tags: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(tags).sort()) out[k] = tags[k]!;
  return out;
}
