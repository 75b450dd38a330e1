/**
 * Validation of the agent's telemetry (`POST /v1/telemetry`): a body `{points: [...]}` or one
 * bare point `{metric, value, tags?, ts?}`. Errors are INPUT_INVALID naming the field, e.g.
 * `points[3].value`.
 */
import { MAX_TELEMETRY_TAGS } from './envelope.js';
import { NetSyncError } from './errors.js';

/** One validated point. */
export interface TelemetryPoint {
  /** 1-8 dot-separated tokens of `[A-Za-z0-9_-]`, at most 128 characters, e.g. `sentiment.delta`. */
  metric: string;
  /** A finite number. */
  value: number;
  /** Up to {@link MAX_TELEMETRY_TAGS} tags, keys sorted; `{}` when none. */
  tags: Record<string, string>;
  /** Origin timestamp, ms since epoch (the sidecar's clock when the agent gave none). */
  ts: number;
}

/** Limits of a telemetry request. */
export interface TelemetryLimits {
  /** Most points in one request. */
  maxPoints: number;
  /** How far in the future a `ts` may lie, ms (clock skew between agent and sidecar). */
  maxFutureMs: number;
  /** How far in the past a `ts` may lie, ms. Older points are refused rather than filed late. */
  maxAgeMs: number;
}

/** Defaults: 10,000 points (a 320 KiB body holds about that many), 60 s ahead, 1 h back. */
export const DEFAULT_TELEMETRY_LIMITS: TelemetryLimits = {
  maxPoints: 10_000,
  maxFutureMs: 60_000,
  maxAgeMs: 3_600_000,
};

/** Longest tag value, characters. */
export const MAX_TAG_VALUE_LENGTH = 128;

const METRIC = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,7}$/;
const TAG_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const POINT_KEYS = new Set(['metric', 'value', 'tags', 'ts']);

function invalid(field: string, message: string): NetSyncError {
  return new NetSyncError('INPUT_INVALID', `${field}: ${message}`, { field });
}

/**
 * Checks a parsed JSON body and returns its points; throws INPUT_INVALID naming the first
 * field at fault. `nowMs` fills a missing `ts` and bounds the given ones.
 */
export function parseTelemetryBody(
  body: unknown,
  nowMs: number,
  limits: TelemetryLimits = DEFAULT_TELEMETRY_LIMITS,
): TelemetryPoint[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('body', 'must be a JSON object {points: [...]} or one point {metric, value, tags?, ts?}');
  }
  const record = body as Record<string, unknown>;
  if (!('points' in record)) return [parsePoint(record, '', nowMs, limits)];
  for (const key of Object.keys(record)) if (key !== 'points') throw invalid(key, 'unknown field (expected points)');
  const points = record['points'];
  if (!Array.isArray(points)) throw invalid('points', 'must be an array');
  if (points.length === 0) throw invalid('points', 'must hold at least one point');
  if (points.length > limits.maxPoints)
    throw invalid('points', `holds ${points.length} points, over the limit of ${limits.maxPoints}`);
  return points.map((p, i) => {
    const at = `points[${i}]`;
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      throw invalid(at, 'must be an object {metric, value, tags?, ts?}');
    return parsePoint(p as Record<string, unknown>, `${at}.`, nowMs, limits);
  });
}

function parsePoint(p: Record<string, unknown>, at: string, nowMs: number, limits: TelemetryLimits): TelemetryPoint {
  for (const key of Object.keys(p))
    if (!POINT_KEYS.has(key)) throw invalid(`${at}${key}`, 'unknown field (expected metric, value, tags, ts)');
  const metric = p['metric'];
  if (typeof metric !== 'string' || metric.length > 128 || !METRIC.test(metric)) {
    throw invalid(`${at}metric`, 'must be 1-8 dot-separated tokens of [A-Za-z0-9_-], at most 128 characters');
  }
  const value = p['value'];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${at}value`, 'must be a finite number');
  return { metric, value, tags: parseTags(p['tags'], `${at}tags`), ts: parseTs(p['ts'], `${at}ts`, nowMs, limits) };
}

function parseTags(raw: unknown, at: string): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw invalid(at, 'must be an object of string values');
  const keys = Object.keys(raw).sort();
  if (keys.length > MAX_TELEMETRY_TAGS)
    throw invalid(at, `has ${keys.length} tags, over the limit of ${MAX_TELEMETRY_TAGS}`);
  const out: Record<string, string> = {};
  for (const key of keys) {
    if (!TAG_KEY.test(key))
      throw invalid(`${at}.${key.slice(0, 64)}`, 'tag key must match [A-Za-z_][A-Za-z0-9_.-]{0,63}');
    const v = (raw as Record<string, unknown>)[key];
    if (typeof v !== 'string') throw invalid(`${at}.${key}`, 'must be a string');
    if (v.length > MAX_TAG_VALUE_LENGTH)
      throw invalid(`${at}.${key}`, `is longer than ${MAX_TAG_VALUE_LENGTH} characters`);
    out[key] = v;
  }
  return out;
}

function parseTs(raw: unknown, at: string, nowMs: number, limits: TelemetryLimits): number {
  if (raw === undefined) return nowMs;
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0)
    throw invalid(at, 'must be an integer ms since epoch');
  if (raw > nowMs + limits.maxFutureMs) throw invalid(at, `is more than ${limits.maxFutureMs} ms in the future`);
  if (raw < nowMs - limits.maxAgeMs) throw invalid(at, `is more than ${limits.maxAgeMs} ms in the past`);
  return raw;
}
