import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { canonicalJson, payloadDigest } from '../../../src/core/digest.js';
import { decodeEnvelope, encodeEnvelope } from '../../../src/core/envelope-codec.js';
import {
  DEFAULT_MAX_ENVELOPE_BYTES,
  decodeSignature,
  encodeSignature,
  endorsementBytes,
  envelopeAuthor,
  EnvelopeSchema,
  MAX_BATCH_ITEMS,
  MAX_ENVELOPE_DEPTH,
  type Envelope,
  type ProposeEnvelope,
} from '../../../src/core/envelope.js';
import { hasCode } from '../../../src/core/errors.js';

const PEER = '12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F6LPhWmrsP2uMD';
const ID = '01J9ZQ4Y6T8K3M5N7P9R1S2T3V';
const te = new TextEncoder();
const bytesOf = (v: unknown): Uint8Array => te.encode(JSON.stringify(v));

/** A one-intent `intent.propose`; `over` replaces fields of the intent. */
function propose(over: Record<string, unknown> = {}): Envelope {
  const payload = { b: [1, 2, { y: true, x: null }], a: 'é' };
  const intent = {
    correlationId: ID,
    subject: 'root.solar.command.sentiment.set',
    payload,
    payloadDigest: payloadDigest(payload),
    createdAtMs: 1_700_000_000_000,
    ttlMs: 60_000,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    ...over,
  };
  return { schemaVersion: 1, kind: 'intent.propose', origin: PEER, intents: [intent] } as Envelope;
}

const samples: Envelope[] = [
  propose(),
  {
    schemaVersion: 1,
    kind: 'intent.endorse',
    endorser: PEER,
    endorsements: [
      { correlationId: ID, payloadDigest: 'a'.repeat(64), signature: encodeSignature(new Uint8Array(64).fill(7)) },
    ],
  },
  {
    schemaVersion: 1,
    kind: 'intent.committed',
    committer: PEER,
    commits: [{ correlationId: ID, stream: 'ROOT_SOLAR_COMMAND', seq: 42 }],
  },
  { schemaVersion: 1, kind: 'heartbeat', peerId: PEER, roles: ['scout'], atMs: 1_700_000_000_000 },
  {
    schemaVersion: 1,
    kind: 'telemetry',
    origin: PEER,
    epoch: 1_700_000_000_000,
    seq: 0,
    sentAtMs: 1_700_000_000_100,
    windowMs: 1_000,
    series: [
      {
        metric: 'sentiment.delta',
        tags: { region: 'eu' },
        window: 1_700_000_000_000,
        part: 0,
        ts: new Float64Array([1_700_000_000_001]),
        v: new Float64Array([0.5]),
      },
    ],
  },
];

describe('envelope codec', () => {
  test.each(samples.map((s) => [s.kind, s] as const))('%s round-trips and names its author', (_kind, env) => {
    const decoded = decodeEnvelope(encodeEnvelope(env));
    expect(decoded).toEqual({ ok: true, envelope: env });
    expect(envelopeAuthor(env)).toBe(PEER);
  });

  test('oversized is refused before parsing (even when not JSON)', () => {
    const junk = new Uint8Array(DEFAULT_MAX_ENVELOPE_BYTES + 1).fill(0xff);
    expect(decodeEnvelope(junk)).toMatchObject({ ok: false, reason: 'oversized' });
    const small = encodeEnvelope(samples[3]!);
    expect(decodeEnvelope(small, small.length - 1)).toMatchObject({ ok: false, reason: 'oversized' });
    expect(decodeEnvelope(small, small.length)).toMatchObject({ ok: true });
  });

  test.each([
    ['invalid UTF-8', new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])],
    ['not JSON', te.encode('{"schemaVersion":1,')],
    ['a JSON array', bytesOf([1])],
    ['a JSON string', bytesOf('x')],
    ['no schemaVersion', bytesOf({ kind: 'heartbeat' })],
    ['a string schemaVersion', bytesOf({ schemaVersion: '1', kind: 'heartbeat' })],
    ['empty', new Uint8Array()],
  ])('malformed: %s', (_name, bytes) => {
    expect(decodeEnvelope(bytes)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  test('unknown version and unknown kind are told apart from schema errors', () => {
    expect(decodeEnvelope(bytesOf({ ...samples[3], schemaVersion: 2 }))).toMatchObject({
      ok: false,
      reason: 'unknown-version',
    });
    expect(decodeEnvelope(bytesOf({ schemaVersion: 1, kind: 'metrics', points: [] }))).toMatchObject({
      ok: false,
      reason: 'unknown-kind',
    });
  });

  test.each([
    ['missing kind', { schemaVersion: 1, peerId: PEER }],
    ['kind not a string', { schemaVersion: 1, kind: 7 }],
    ['bad ULID', propose({ correlationId: 'not-a-ulid' })],
    ['bad digest', propose({ payloadDigest: 'ABC' })],
    ['bad traceparent', propose({ traceparent: 'x' })],
    ['wildcard subject', propose({ subject: 'root.solar.command.>' })],
    ['missing payload', propose({ payload: undefined })],
    ['empty proposal batch', { ...propose(), intents: [] }],
    ['intent without its origin at the batch level', { ...propose(), origin: undefined }],
    ['negative seq', { ...samples[2], commits: [{ correlationId: ID, stream: 'S', seq: -1 }] }],
    ['empty endorsement batch', { ...samples[1], endorsements: [] }],
    [
      'signature not base64url',
      { ...samples[1], endorsements: [{ correlationId: ID, payloadDigest: 'a'.repeat(64), signature: 'a+b/c=' }] },
    ],
    ['role not a token', { ...samples[3], roles: ['Scout Master'] }],
    [
      'telemetry ts and v of different lengths',
      { ...samples[4], series: [{ metric: 'm', window: 0, part: 0, ts: [1, 2], v: [1] }] },
    ],
    [
      'telemetry tag key not a token',
      { ...samples[4], series: [{ metric: 'm', tags: { 'a b': 'x' }, window: 0, part: 0, ts: [1], v: [1] }] },
    ],
    [
      'telemetry too many tags',
      {
        ...samples[4],
        series: [
          {
            metric: 'm',
            tags: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'x'])),
            window: 0,
            part: 0,
            ts: [1],
            v: [1],
          },
        ],
      },
    ],
    ['telemetry bad metric', { ...samples[4], series: [{ metric: 'a..b', window: 0, part: 0, ts: [1], v: [1] }] }],
  ])('schema: %s', (_name, value) => {
    const r = decodeEnvelope(bytesOf(value));
    expect(r).toMatchObject({ ok: false, reason: 'schema' });
    if (!r.ok) expect(r.detail.length).toBeGreaterThan(0);
  });

  test('a proposal batch holds at most MAX_BATCH_ITEMS intents, whatever the size limit', () => {
    const one = (propose() as ProposeEnvelope).intents[0]!;
    const batch = (n: number) => bytesOf({ ...propose(), intents: Array.from({ length: n }, () => one) });
    expect(decodeEnvelope(batch(MAX_BATCH_ITEMS), Number.MAX_SAFE_INTEGER)).toMatchObject({ ok: true });
    expect(decodeEnvelope(batch(MAX_BATCH_ITEMS + 1), Number.MAX_SAFE_INTEGER)).toMatchObject({
      ok: false,
      reason: 'schema',
    });
  });

  test('deep nesting is a schema error, not a stack overflow', () => {
    const deep = `{"schemaVersion":1,"kind":"heartbeat","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(decodeEnvelope(te.encode(deep))).toMatchObject({ ok: false, reason: 'schema' });
    // The payload sits 4 levels down: envelope, intents array, intent, payload.
    const justDeepEnough = JSON.parse(`${'['.repeat(MAX_ENVELOPE_DEPTH - 4)}1${']'.repeat(MAX_ENVELOPE_DEPTH - 4)}`);
    expect(
      decodeEnvelope(bytesOf(propose({ payload: justDeepEnough, payloadDigest: payloadDigest(justDeepEnough) }))),
    ).toMatchObject({ ok: true });
  });

  test('unknown fields within v1 are stripped (additive changes stay compatible)', () => {
    const r = decodeEnvelope(bytesOf({ ...samples[3], future: 1 }));
    expect(r).toEqual({ ok: true, envelope: samples[3] });
  });

  test('encode refuses a non-conforming envelope with INPUT_INVALID', () => {
    let err: unknown;
    try {
      encodeEnvelope(propose({ ttlMs: 0 }));
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'INPUT_INVALID')).toBe(true);
  });
});

describe('payload digest', () => {
  test('canonical JSON sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson('é\n')).toBe('"é\\n"');
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(TypeError);
  });

  test('key order does not change the digest; values do', () => {
    const a = payloadDigest({ x: 1, y: [1, 2], z: { q: 'r', p: 's' } });
    expect(payloadDigest({ z: { p: 's', q: 'r' }, y: [1, 2], x: 1 })).toBe(a);
    expect(payloadDigest({ x: 1, y: [2, 1], z: { q: 'r', p: 's' } })).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  test('known vector: SHA-256 of the canonical text', () => {
    // sha256('{"a":1}') computed independently with `printf '{"a":1}' | sha256sum`.
    expect(payloadDigest({ a: 1 })).toBe('015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862');
  });
});

describe('endorsement bytes and signatures', () => {
  test('domain-separated signing text', () => {
    expect(new TextDecoder().decode(endorsementBytes(ID, 'ab'))).toBe(`net-sync/endorse/v1\n${ID}\nab`);
  });

  test('base64url round-trip and refusal of other alphabets', () => {
    for (const n of [0, 1, 2, 3, 64]) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 250) % 256);
      const s = encodeSignature(b);
      expect(s).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(decodeSignature(s)).toEqual(b);
    }
    expect(decodeSignature('ab+/')).toBeNull();
    expect(decodeSignature('a')).toBeNull();
  });
});

describe('schemas/envelope.v1.json', () => {
  const file = new URL('../../../schemas/envelope.v1.json', import.meta.url);
  const generated = `${JSON.stringify(z.toJSONSchema(EnvelopeSchema, { io: 'input' }), null, 2)}\n`;

  test('is what z.toJSONSchema produces now (UPDATE_SCHEMAS=1 rewrites it)', () => {
    if (process.env.UPDATE_SCHEMAS === '1') writeFileSync(file, generated);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(generated);
  });
});
