import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCommandRow, HEADER } from '../../../src/core/command-message.js';
import { payloadDigest } from '../../../src/core/digest.js';
import { assertSameIntent } from '../../../src/core/idempotency.js';
import { parseIntentInput } from '../../../src/core/intent-input.js';
import {
  decodePayload,
  encodePayload,
  objectStoreDigest,
  payloadRefOf,
  PayloadRefError,
} from '../../../src/core/payload-ref.js';

const payload = { b: [1, 2, { z: 'é' }], a: 'x' };

describe('payload references (core)', () => {
  it('encodes a payload as its canonical JSON, whose SHA-256 is the payload digest endorsers sign', () => {
    const { bytes, digest } = encodePayload(payload);
    expect(new TextDecoder().decode(bytes)).toBe('{"a":"x","b":[1,2,{"z":"é"}]}');
    expect(digest).toBe(payloadDigest(payload));
    expect(digest).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it("writes the Object Store's digest form (SHA-256= and padded base64url), as nats.js does", () => {
    const { bytes, digest } = encodePayload(payload);
    const b64url = createHash('sha256').update(bytes).digest('base64').replaceAll('+', '-').replaceAll('/', '_');
    expect(objectStoreDigest(digest)).toBe(`SHA-256=${b64url}`);
  });

  it('decodes only bytes that match the reference, naming what differs', () => {
    const { bytes, digest } = encodePayload(payload);
    const ref = { bucket: 'B', name: 'n', size: bytes.length, digest };
    expect(decodePayload(bytes, ref)).toEqual(payload);
    const problem = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err instanceof PayloadRefError ? err.problem : 'other';
      }
      return 'none';
    };
    expect(problem(() => decodePayload(bytes, { ...ref, size: ref.size + 1 }))).toBe('size');
    expect(problem(() => decodePayload(bytes, { ...ref, digest: '0'.repeat(64) }))).toBe('digest');
    const notJson = new TextEncoder().encode('{nope');
    expect(problem(() => decodePayload(notJson, encodeRef(notJson)))).toBe('json');
  });

  it('builds a command with payloadRef in place of the payload, and a header naming the object', () => {
    const { bytes, digest } = encodePayload(payload);
    const ref = { bucket: 'NET_SYNC_PAYLOADS', name: '01J0000000000000000000000A', size: bytes.length, digest };
    const row = buildCommandRow({
      correlationId: ref.name,
      subject: 'root.solar.command.a.b',
      payload,
      payloadRef: ref,
      payloadDigest: digest,
      origin: 'o',
      traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01',
      createdAtMs: 0,
    });
    const body = JSON.parse(new TextDecoder().decode(row.body)) as Record<string, unknown>;
    expect(body).not.toHaveProperty('payload');
    expect(body['payloadRef']).toEqual(ref);
    expect(row.headers[HEADER.payloadRef]).toBe(`NET_SYNC_PAYLOADS/${ref.name}`);
    expect(payloadRefOf(row.body)).toEqual(ref);
    expect(payloadRefOf(new TextEncoder().encode('{"payload":1}'))).toBeUndefined();
    // An idempotent retry of the same intent matches the stored reference by digest.
    expect(() => assertSameIntent(row.body, 'root.solar.command.a.b', { a: 'x', b: [1, 2, { z: 'é' }] })).not.toThrow();
    expect(() => assertSameIntent(row.body, 'root.solar.command.a.b', { a: 'y' })).toThrow(/idempotency-key/);
  });

  it('refuses a payload over the limit with PAYLOAD_TOO_LARGE naming payload', () => {
    try {
      parseIntentInput(
        { subject: 'root.solar.command.a.b', payload: 'x'.repeat(100) },
        { prefix: 'root.solar', maxPayloadBytes: 50 },
      );
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'payload' });
    }
  });
});

function encodeRef(bytes: Uint8Array) {
  return { bucket: 'B', name: 'n', size: bytes.length, digest: createHash('sha256').update(bytes).digest('hex') };
}
