/**
 * Raw telemetry envelopes for codec tests: a valid frame around one series whose fields the test
 * chooses (any JSON, to test refusals), and the refusal detail the codec gives for a value.
 */
import { expect } from 'vitest';
import { decodeEnvelope } from '../../src/core/envelope-codec.js';
import { EnvelopeSchema } from '../../src/core/envelope.js';

/** A valid peer ID, the origin of every envelope here. */
export const PEER = '12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F6LPhWmrsP2uMD';
/** The origin's epoch and the window of its one series. */
export const T0 = 1_700_000_000_000;

const te = new TextEncoder();

/** JSON bytes of `v`, as they travel on the topic. */
export const bytesOf = (v: unknown): Uint8Array => te.encode(JSON.stringify(v));

/** A telemetry envelope whose one series carries `fields` besides its metric, tags, window and part. */
export function telemetryWithSeries(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    schemaVersion: 1,
    kind: 'telemetry',
    origin: PEER,
    epoch: T0,
    seq: 0,
    sentAtMs: T0 + 100,
    windowMs: 1_000,
    series: [{ metric: 'sentiment.delta', tags: { region: 'eu' }, window: T0, part: 0, ...fields }],
  };
}

/** The codec's refusal detail for `value`, which must be refused by the schema. */
export function schemaRefusal(value: unknown): string {
  const r = decodeEnvelope(bytesOf(value));
  if (r.ok) throw new Error('expected a refusal');
  expect(r.reason).toBe('schema');
  return r.detail;
}

/**
 * Decodes `value` and expects the codec to agree with the declared schema (zod per element, the
 * JSON Schema's source): both accept it with the same result, or both refuse it. True when refused.
 */
export function decodeMatchesDeclared(value: Record<string, unknown>, label: string): boolean {
  const declared = EnvelopeSchema.safeParse(JSON.parse(JSON.stringify(value)));
  const decoded = decodeEnvelope(bytesOf(value));
  expect(decoded.ok, label).toBe(declared.success);
  if (decoded.ok && declared.success) expect(decoded.envelope).toEqual(declared.data);
  return !decoded.ok;
}
