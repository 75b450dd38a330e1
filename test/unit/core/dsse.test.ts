import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64Decode, base64Encode, decodeEnvelope, encodeEnvelope, pae } from '../../../src/core/dsse.js';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

// The DSSE spec's own test vector (protocol.md, "Test Vectors"): ECDSA P-256, deterministic (RFC 6979).
const VECTOR = {
  payloadType: 'http://example.com/HelloWorld',
  body: 'hello world',
  pae: 'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
  envelope: {
    payload: 'aGVsbG8gd29ybGQ=',
    payloadType: 'http://example.com/HelloWorld',
    signatures: [{ sig: 'A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA==' }],
  },
  x: 46950820868899156662930047687818585632848591499744589407958293238635476079160n,
  y: 5640078356564379163099075877009565129882514886557779369047442380624545832820n,
};

function coordinate(n: bigint): string {
  return Buffer.from(n.toString(16).padStart(64, '0'), 'hex').toString('base64url');
}

describe('DSSE pre-authentication encoding', () => {
  it("matches the spec's test vector byte for byte", () => {
    expect(text(pae(VECTOR.payloadType, bytes(VECTOR.body)))).toBe(VECTOR.pae);
  });

  it("is what the spec's own signature covers (its P-256 key verifies our PAE)", () => {
    const key = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: coordinate(VECTOR.x), y: coordinate(VECTOR.y) },
      format: 'jwk',
    });
    const decoded = decodeEnvelope(JSON.stringify(VECTOR.envelope));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const { envelope } = decoded;
    expect(text(envelope.body)).toBe('hello world');
    expect(envelope.signatures[0]!.keyid).toBe(''); // absent reads as empty (spec)
    const message = pae(envelope.payloadType, envelope.body);
    const sig = envelope.signatures[0]!.sig;
    expect(verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    expect(verify('sha256', bytes(`${VECTOR.pae}!`), { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);
  });

  it('counts bytes, not characters, for UTF-8 types and bodies', () => {
    expect(text(pae('t/é', bytes('ü')))).toBe('DSSEv1 4 t/é 2 ü');
    expect(text(pae('', new Uint8Array()))).toBe('DSSEv1 0  0 ');
  });
});

describe('base64', () => {
  it('encodes standard padded and decodes standard or URL-safe, padded or not', () => {
    const raw = Uint8Array.from([0xfb, 0xff, 0xbf, 0x00, 0x01]);
    expect(base64Encode(raw)).toBe('+/+/AAE=');
    for (const form of ['+/+/AAE=', '+/+/AAE', '-_-_AAE=', '-_-_AAE']) expect(base64Decode(form)).toEqual(raw);
    for (const bad of ['a', 'ab$c', 'abc===', ' YQ==']) expect(base64Decode(bad), bad).toBeNull();
    const big = Uint8Array.from({ length: 70_000 }, (_, i) => i & 0xff);
    expect(base64Decode(base64Encode(big))).toEqual(big);
  });
});

describe('DSSE JSON envelope', () => {
  it('round-trips with every field and ignores unknown ones', () => {
    const encoded = encodeEnvelope({
      payloadType: 'application/x',
      payload: base64Encode(bytes('{"a":1}')),
      signatures: [{ keyid: 'k1', sig: base64Encode(Uint8Array.from([1, 2, 3])) }],
    });
    expect(JSON.parse(text(encoded))).toEqual({
      payloadType: 'application/x',
      payload: 'eyJhIjoxfQ==',
      signatures: [{ keyid: 'k1', sig: 'AQID' }],
    });
    const withExtra = { ...JSON.parse(text(encoded)), extra: true };
    const d = decodeEnvelope(JSON.stringify(withExtra));
    expect(d.ok && text(d.envelope.body)).toBe('{"a":1}');
    expect(d.ok && d.envelope.signatures).toEqual([{ keyid: 'k1', sig: Uint8Array.from([1, 2, 3]) }]);
  });

  it('names the field that is wrong', () => {
    const ok = { payloadType: 't', payload: 'YQ==', signatures: [{ keyid: 'k', sig: 'YQ==' }] };
    const cases: Array<[unknown, string]> = [
      ['not json', 'body'],
      [[1], 'body'],
      [{ ...ok, payloadType: 1 }, 'payloadType'],
      [{ ...ok, payloadType: undefined }, 'payloadType'],
      [{ ...ok, payload: 'a$' }, 'payload'],
      [{ ...ok, payload: undefined }, 'payload'],
      [{ ...ok, signatures: {} }, 'signatures'],
      [{ ...ok, signatures: [ok.signatures[0], null] }, 'signatures[1]'],
      [{ ...ok, signatures: [{ keyid: 2, sig: 'YQ==' }] }, 'signatures[0].keyid'],
      [{ ...ok, signatures: [{ keyid: 'k' }] }, 'signatures[0].sig'],
      [{ ...ok, signatures: [{ keyid: 'k', sig: '%%' }] }, 'signatures[0].sig'],
    ];
    for (const [value, field] of cases) {
      const d = decodeEnvelope(typeof value === 'string' ? value : JSON.stringify(value));
      expect(d.ok, JSON.stringify(value)).toBe(false);
      if (!d.ok) {
        expect(d.field, JSON.stringify(value)).toBe(field);
        expect(d.message.startsWith(`${field}: `)).toBe(true);
      }
    }
    expect(decodeEnvelope(Uint8Array.from([0xff, 0xfe])).ok).toBe(false); // not UTF-8
  });

  it('is verifiable by any Ed25519 library over PAE', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const body = bytes('{"x":1}');
    const sig = sign(null, pae('application/x', body), privateKey);
    const d = decodeEnvelope(
      encodeEnvelope({
        payloadType: 'application/x',
        payload: base64Encode(body),
        signatures: [{ keyid: 'k', sig: base64Encode(sig) }],
      }),
    );
    expect(d.ok).toBe(true);
    if (d.ok)
      expect(verify(null, pae(d.envelope.payloadType, d.envelope.body), publicKey, d.envelope.signatures[0]!.sig)).toBe(
        true,
      );
  });
});
