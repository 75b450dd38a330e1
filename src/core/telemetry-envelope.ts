/**
 * The `telemetry` envelope kind: a batch of an origin's points, as series chunks with point
 * columns `ts` and `v`. Its schemas in three uses: declared (zod per element; the JSON Schema and
 * the reference in tests), wire (what the codec decodes, columns checked by loops) and memory
 * (what the codec checks before it encodes). Decoded, the columns are `Float64Array`s whichever
 * wire form arrived; see `packed-column.ts` for the packed form and why.
 */
import { z } from 'zod';
import { ENVELOPE_SCHEMA_VERSION, msSinceEpoch, peerId } from './envelope-fields.js';
import { numberColumn } from './number-column.js';
import { float64Column, float64sFromLE, packedColumn } from './packed-column.js';

/**
 * Most points in one `telemetry` envelope. 8,192 points are 64 KiB per packed column (about 175
 * KiB of base64 for both), or about 40 JSON bytes a point in the array form: under 256 KiB.
 */
export const MAX_TELEMETRY_POINTS = 8_192;
/** Most series chunks in one `telemetry` envelope. */
export const MAX_TELEMETRY_SERIES = 1_024;
/** Most tags on one point. */
export const MAX_TELEMETRY_TAGS = 8;

const metricName = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,7}$/, 'must be 1-8 dot-separated tokens of [A-Za-z0-9_-]');
const tagKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'must be a tag key');
const tags = z
  .record(tagKey, z.string().max(128))
  .refine((t) => Object.keys(t).length <= MAX_TELEMETRY_TAGS, `at most ${MAX_TELEMETRY_TAGS} tags`);

/** The fields of a series chunk besides its point columns. */
const seriesFields = {
  metric: metricName,
  /** Bounded tags; absent when none. Keys sorted by the origin. */
  tags: tags.optional(),
  /** Start of the window, ms since epoch, a multiple of the envelope's `windowMs`. */
  window: msSinceEpoch,
  /** Which `windowMaxPoints`-sized part of the window, by the origin's point ordinal. */
  part: z.number().int().nonnegative(),
  /** True for points that were late (or early) at the origin, summarised apart in `window`. */
  late: z.boolean().optional(),
};

/** Schemas of the point columns in both wire forms: `ts` (ms since epoch) and `v` (finite). */
interface ColumnSchemas {
  arrays: { ts: z.ZodType<number[]>; v: z.ZodType<number[]> };
  packed: { ts: z.ZodType<Float64Array>; v: z.ZodType<Float64Array> };
}

// Exactly one pair of columns, as the JSON Schema states it (`false`: the property must be absent).
const ONE_COLUMN_FORM = {
  oneOf: [
    { required: ['ts', 'v'], properties: { tsB64: false, vB64: false } },
    { required: ['tsB64', 'vB64'], properties: { ts: false, v: false } },
  ],
};

/**
 * A series chunk on the wire, in either form, decoded to `Float64Array` columns `ts` and `v`.
 * The array form (`ts`, `v`: JSON arrays of numbers) is what origins before the packed form
 * send; it is still read. Both forms at once, or one column of each, are refused: two receivers
 * must never read different points from one message.
 */
function wireSeries(columns: ColumnSchemas) {
  return z
    .object({
      ...seriesFields,
      /** Array form: origin timestamps of the points, ms since epoch. */
      ts: columns.arrays.ts.optional(),
      /** Array form: values; finite numbers (JSON has no NaN or Infinity). */
      v: columns.arrays.v.optional(),
      /** Packed form: the timestamps as base64 of little-endian float64s (see `packed-column.ts`). */
      tsB64: columns.packed.ts.optional(),
      /** Packed form: the values, likewise; NaN and ±Infinity are refused. */
      vB64: columns.packed.v.optional(),
    })
    .check((payload) => {
      const { ts, v, tsB64, vB64 } = payload.value;
      const arrays = ts !== undefined && v !== undefined && tsB64 === undefined && vB64 === undefined;
      const packed = ts === undefined && v === undefined && tsB64 !== undefined && vB64 !== undefined;
      if (!arrays && !packed) {
        payload.issues.push({
          code: 'custom',
          message: 'must carry ts and v, or tsB64 and vB64 (one form)',
          input: payload.value,
        });
      } else if (arrays ? ts!.length !== v!.length : tsB64!.length !== vB64!.length) {
        const message = arrays ? 'ts and v differ in length' : 'tsB64 and vB64 differ in length';
        payload.issues.push({ code: 'custom', message, input: payload.value, path: [arrays ? 'v' : 'vB64'] });
      }
    })
    .meta(ONE_COLUMN_FORM)
    .transform(({ ts, v, tsB64, vB64, ...rest }) => ({
      ...rest,
      ts: tsB64 ?? new Float64Array(ts!),
      v: vB64 ?? new Float64Array(v!),
    }));
}

/** A series chunk in memory, as the emitter builds it and `encodeEnvelope` checks it before packing. */
const memorySeries = z
  .object({
    ...seriesFields,
    /** Origin timestamps of the points, ms since epoch. */
    ts: float64Column('ms-since-epoch', 1, MAX_TELEMETRY_POINTS),
    /** Values; finite numbers. */
    v: float64Column('finite', 1, MAX_TELEMETRY_POINTS),
  })
  .refine((s) => s.ts.length === s.v.length, { message: 'ts and v differ in length', path: ['v'] });

/** A telemetry envelope around `series`. */
function telemetryEnvelope<S extends z.ZodType<{ ts: Float64Array }>>(series: S) {
  return z.object({
    schemaVersion: z.literal(ENVELOPE_SCHEMA_VERSION),
    kind: z.literal('telemetry'),
    /** The agent host's peer ID; must be the gossip message's signed `from`. */
    origin: peerId,
    /** The origin's start time, ms: part ordinals restart with it, so it is part of every key. */
    epoch: msSinceEpoch,
    /** Batch number within the epoch, from 0; a gap tells a scout it missed a batch. */
    seq: z.number().int().nonnegative(),
    /** Origin's wall clock when it sent the batch, ms since epoch. */
    sentAtMs: msSinceEpoch,
    /** The origin's window length, ms. */
    windowMs: z.number().int().positive().max(3_600_000),
    series: z
      .array(series)
      .min(1)
      .max(MAX_TELEMETRY_SERIES)
      // Only over decoded series: a refused one may not have its columns decoded (zod runs a
      // refinement after non-aborting issues such as a failed regex).
      .refine((all) => all.reduce((n, s) => n + s.ts.length, 0) <= MAX_TELEMETRY_POINTS, {
        message: `at most ${MAX_TELEMETRY_POINTS} points in all`,
        when: (payload) => payload.issues.length === 0,
      }),
  });
}

// The declared packed column: canonical base64 of whole float64s by pattern (so the JSON Schema
// states it), then zod per element. Slow, and the reference the codec's loops are tested against.
const PACKED_PATTERN = /^(?:[A-Za-z0-9+/]{32})*(?:[A-Za-z0-9+/]{10}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/]{21}[AQgw]==)?$/;
function declaredPacked(element: z.ZodNumber, description: string): z.ZodType<Float64Array> {
  return z
    .string()
    .regex(PACKED_PATTERN, 'must be canonical base64 of whole 8-byte float64s')
    .meta({ description })
    .transform((text) => Array.from(float64sFromLE(Buffer.from(text, 'base64'))))
    .pipe(z.array(element).min(1).max(MAX_TELEMETRY_POINTS))
    .transform((column) => new Float64Array(column));
}

const declaredSeries = wireSeries({
  arrays: {
    ts: z.array(msSinceEpoch).min(1).max(MAX_TELEMETRY_POINTS),
    v: z.array(z.number()).min(1).max(MAX_TELEMETRY_POINTS),
  },
  packed: {
    ts: declaredPacked(
      msSinceEpoch,
      `Base64 (RFC 4648 §4, padded) of 1 to ${MAX_TELEMETRY_POINTS} little-endian IEEE 754 float64s: ` +
        'integer ms since epoch, 0 to 2^53-1',
    ),
    v: declaredPacked(
      z.number(),
      `Base64 (RFC 4648 §4, padded) of 1 to ${MAX_TELEMETRY_POINTS} little-endian IEEE 754 float64s: finite numbers`,
    ),
  },
});

/**
 * One series chunk: points of one (metric, tags) that the origin assigned to one window part.
 * Columnar (`ts[i]`, `v[i]`): 1 to MAX_TELEMETRY_POINTS integer ms since epoch, as many finite
 * values. On the wire the columns are packed (`tsB64`, `vB64`; what this version sends) or JSON
 * arrays (`ts`, `v`; older origins); decoded, they are `Float64Array`s either way.
 *
 * Compatibility: the packed form replaced the arrays before any release. A node older than it
 * refuses a packed batch as `schema` (no `ts`), which is a gossip *reject*: it lowers the
 * origin's score there, and a few such batches graylist it. So every node of a mesh must run
 * this version or later before origins send packed columns; a released v1 would have needed a
 * new kind instead (which older nodes ignore).
 */
export const TelemetrySeriesSchema = declaredSeries;

/**
 * `telemetry`: a batch of the origin's points, grouped by series and window. Windows, parts and
 * lateness are decided by the origin, so every scout that receives the batch files each point
 * under the same key (see `src/core/telemetry-window.ts`).
 */
export const TelemetryEnvelopeSchema = telemetryEnvelope(declaredSeries);

/** What the codec decodes: {@link TelemetryEnvelopeSchema} with the columns checked by loops (same rules). */
export const WireTelemetryEnvelopeSchema = telemetryEnvelope(
  wireSeries({
    arrays: {
      ts: numberColumn('ms-since-epoch', 1, MAX_TELEMETRY_POINTS),
      v: numberColumn('finite', 1, MAX_TELEMETRY_POINTS),
    },
    packed: {
      ts: packedColumn('ms-since-epoch', 1, MAX_TELEMETRY_POINTS),
      v: packedColumn('finite', 1, MAX_TELEMETRY_POINTS),
    },
  }),
);

/** What the codec checks before encoding: a telemetry envelope in memory, `Float64Array` columns. */
export const MemoryTelemetryEnvelopeSchema = telemetryEnvelope(memorySeries);
