/**
 * The envelope codec: bytes on the mesh topic to a validated envelope and back. Decoding never
 * throws: a refusal is a value with a bounded reason, which the mesh maps to a gossip verdict.
 */
import { exceedsDepth } from './json-depth.js';
import type { z } from 'zod';
import {
  DEFAULT_MAX_ENVELOPE_BYTES,
  ENVELOPE_KINDS,
  ENVELOPE_SCHEMA_VERSION,
  MAX_ENVELOPE_DEPTH,
  MemoryEnvelopeSchema,
  WireEnvelopeSchema,
  type Envelope,
  type TelemetrySeries,
} from './envelope.js';
import { NetSyncError } from './errors.js';
import { packFloat64 } from './packed-column.js';

/** Why an envelope was refused by the codec. */
export type DecodeFailureReason = 'oversized' | 'malformed' | 'unknown-version' | 'unknown-kind' | 'schema';

/** Outcome of `decodeEnvelope`, as a value. `detail` never contains payload data. */
export type DecodeResult =
  | { ok: true; envelope: Envelope }
  | { ok: false; reason: DecodeFailureReason; detail: string };

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/**
 * Decodes and validates one envelope. Checks, in order: size (`bytes.length > maxBytes` is
 * `oversized`, before any parsing), UTF-8 and JSON (`malformed`), a JSON object with a numeric
 * `schemaVersion` (`malformed`), the version (`unknown-version`), nesting depth and the
 * schema (`schema`), the kind (`unknown-kind`). Never throws.
 */
export function decodeEnvelope(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_ENVELOPE_BYTES): DecodeResult {
  if (bytes.length > maxBytes) {
    return { ok: false, reason: 'oversized', detail: `${bytes.length} bytes > limit ${maxBytes}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch {
    return { ok: false, reason: 'malformed', detail: 'not UTF-8 JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'malformed', detail: 'not a JSON object' };
  }
  const { schemaVersion, kind } = raw as { schemaVersion?: unknown; kind?: unknown };
  if (typeof schemaVersion !== 'number') {
    return { ok: false, reason: 'malformed', detail: 'no numeric schemaVersion' };
  }
  if (schemaVersion !== ENVELOPE_SCHEMA_VERSION) {
    return { ok: false, reason: 'unknown-version', detail: `schemaVersion ${String(schemaVersion).slice(0, 20)}` };
  }
  if (tooDeep(raw as Record<string, unknown>)) {
    return { ok: false, reason: 'schema', detail: `nesting deeper than ${MAX_ENVELOPE_DEPTH}` };
  }
  if (typeof kind === 'string' && !(ENVELOPE_KINDS as readonly string[]).includes(kind)) {
    return { ok: false, reason: 'unknown-kind', detail: `kind ${JSON.stringify(kind.slice(0, 40))}` };
  }
  const parsed = WireEnvelopeSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: 'schema', detail: describeIssues(parsed.error) };
  return { ok: true, envelope: parsed.data };
}

/**
 * How telemetry columns go on the wire: `packed` (`tsB64`, `vB64`; see packed-column.ts), or
 * `arrays` (`ts`, `v` as JSON numbers), which versions before the packed form read, and reject
 * the packed form: for a rolling upgrade.
 */
export type TelemetryColumnForm = 'packed' | 'arrays';

/**
 * Encodes an envelope to UTF-8 JSON after validating it against the schema, so that a bug
 * shows up here rather than as rejections (and score penalties) on every peer. Telemetry columns
 * go out in `opts.telemetryColumns` form (default packed). Throws INPUT_INVALID when `envelope`
 * does not conform. Size is the publisher's check.
 */
export function encodeEnvelope(envelope: Envelope, opts: { telemetryColumns?: TelemetryColumnForm } = {}): Uint8Array {
  const parsed = MemoryEnvelopeSchema.safeParse(envelope);
  if (!parsed.success) {
    throw new NetSyncError('INPUT_INVALID', `envelope does not conform: ${describeIssues(parsed.error)}`);
  }
  const data = parsed.data;
  if (data.kind !== 'telemetry') return encoder.encode(JSON.stringify(data));
  const wire = opts.telemetryColumns === 'arrays' ? arraySeries : packSeries;
  return encoder.encode(JSON.stringify({ ...data, series: data.series.map(wire) }));
}

// The packed wire form of a series: its columns as base64 float64s.
function packSeries({ ts, v, ...rest }: TelemetrySeries): Record<string, unknown> {
  return { ...rest, tsB64: packFloat64(ts), vB64: packFloat64(v) };
}

// The array wire form of a series: its columns as JSON numbers.
function arraySeries({ ts, v, ...rest }: TelemetrySeries): Record<string, unknown> {
  return { ...rest, ts: Array.from(ts), v: Array.from(v) };
}

// A telemetry batch in the array form is thousands of numbers in `series[i].ts` and
// `series[i].v`, and walking them cost a quarter of its decode. The schema checks those columns
// flat (an element that is not a number is refused there, as `schema` too, without recursing), so
// the walk skips them and every verdict stays the same: an envelope the schema accepts has flat
// columns. The packed columns are strings, which the walk passes over in one step.
function tooDeep(raw: Record<string, unknown>): boolean {
  const series = raw['kind'] === 'telemetry' ? raw['series'] : undefined;
  if (!Array.isArray(series)) return exceedsDepth(raw, MAX_ENVELOPE_DEPTH);
  for (const key in raw) if (key !== 'series' && exceedsDepth(raw[key], MAX_ENVELOPE_DEPTH - 1)) return true;
  for (const item of series as unknown[]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      if (exceedsDepth(item, MAX_ENVELOPE_DEPTH - 2)) return true;
      continue;
    }
    for (const key in item) {
      if (key !== 'ts' && key !== 'v' && exceedsDepth((item as Record<string, unknown>)[key], MAX_ENVELOPE_DEPTH - 3))
        return true;
    }
  }
  return false;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
