import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/core/errors.js';
import { canonicalJson } from '../../../src/core/digest.js';
import { canonicalPayloadBytes, firstInvalidUtf8, parseJsonBody, utf8Length } from '../../../src/core/json-body.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const bytes = (...parts: Array<string | number[]>): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? [...enc(p)] : p)));

function refusal(body: Uint8Array): { field: string | undefined; message: string } {
  try {
    parseJsonBody(body);
  } catch (err) {
    expect(hasCode(err, 'INPUT_INVALID')).toBe(true);
    return { field: (err as { field?: string }).field, message: (err as Error).message };
  }
  throw new Error(`accepted ${new TextDecoder().decode(body)}`);
}

describe('parseJsonBody', () => {
  it('parses ordinary JSON, keeping numbers a double holds exactly enough', () => {
    const text = '{"subject":"s","payload":{"a":[1,-2.5,1.5e300,-9007199254740991,0,0.0e5,"é€😀"],"b":null}}';
    expect(parseJsonBody(enc(text))).toEqual(JSON.parse(text));
  });

  it('refuses out-of-range numbers, naming the field', () => {
    expect(refusal(enc('{"payload":{"n":[1,2,1e400]}}'))).toMatchObject({ field: 'payload.n[2]' });
    expect(refusal(enc('{"payload":{"n":-1e400}}')).message).toMatch(/^payload\.n: -1e400 is out of range/);
    expect(refusal(enc('{"payload":{"id":12345678901234567891}}'))).toMatchObject({ field: 'payload.id' });
    expect(refusal(enc('{"payload":{"id":9007199254740993}}')).message).toMatch(/would become 9007199254740992/);
    // An integer a double holds exactly is kept, however large (JSON.stringify writes 1e20 so).
    expect(parseJsonBody(enc('{"n":100000000000000000000}'))).toEqual({ n: 1e20 });
    expect(refusal(enc('{"payload":{"tiny":1e-400}}')).message).toMatch(/round to 0/);
    expect(refusal(enc('1e999'))).toMatchObject({ field: 'body' });
  });

  it('refuses __proto__ and constructor.prototype keys, escaped or not, naming the field', () => {
    expect(refusal(enc('{"subject":"s","payload":{"__proto__":{"x":1}}}'))).toMatchObject({
      field: 'payload.__proto__',
    });
    expect(refusal(enc('{"payload":{"we ird":[{"__pro\\u0074o__":1}]}}'))).toMatchObject({
      field: 'payload["we ird"][0].__proto__',
    });
    expect(refusal(enc('{"payload":{"constructor":{"prototype":{}}}}'))).toMatchObject({
      field: 'payload.constructor.prototype',
    });
    expect(parseJsonBody(enc('{"payload":{"constructor":1,"prototype":2}}'))).toEqual({
      payload: { constructor: 1, prototype: 2 },
    });
  });

  it('refuses invalid UTF-8, naming the field it sits in', () => {
    expect(refusal(bytes('{"subject":"x","payload":{"note":"ab', [0xff], '"}}'))).toMatchObject({
      field: 'payload.note',
    });
    expect(refusal(bytes('{"subject":"x","payload":{"no', [0xc3], 'te":1}}'))).toMatchObject({ field: 'payload' });
    expect(refusal(bytes('{"subject":"', [0xed, 0xa0, 0x80], '"}')).message).toMatch(/^subject: is not valid UTF-8/);
    // The bad byte right after an opening quote, or outside any string.
    expect(refusal(bytes('{"', [0xff], 'x":1}'))).toMatchObject({ field: 'body' });
    expect(refusal(bytes('{"a":[1,', [0xc3, 0x28], ']}'))).toMatchObject({ field: 'a[1]' });
    expect(refusal(bytes('{"a":1e', [0xff]))).toMatchObject({ field: 'body' });
  });

  it('names body for an empty or malformed body', () => {
    expect(refusal(enc(''))).toMatchObject({ field: 'body' });
    expect(refusal(enc('{"a":'))).toMatchObject({ field: 'body' });
  });
});

describe('firstInvalidUtf8', () => {
  it('accepts well-formed UTF-8 and finds the first bad byte', () => {
    expect(firstInvalidUtf8(enc('héllo €😀'))).toBe(-1);
    expect(firstInvalidUtf8(new Uint8Array([0x61, 0xed, 0xa0, 0x80]))).toBe(1); // surrogate
    expect(firstInvalidUtf8(new Uint8Array([0xc0, 0x80]))).toBe(0); // overlong
    expect(firstInvalidUtf8(new Uint8Array([0x61, 0xe2, 0x82]))).toBe(1); // cut short
    expect(firstInvalidUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80]))).toBe(0); // past U+10FFFF
  });
});

describe('canonicalPayloadBytes', () => {
  const dec = new TextDecoder();
  const payloadOf = (text: string): string | undefined => {
    const body = parseJsonBody(enc(text)) as object;
    const b = canonicalPayloadBytes(body);
    return b === undefined ? undefined : dec.decode(b);
  };

  it('hands back the request bytes of a canonical payload, and nothing for any other', () => {
    expect(payloadOf('{"subject":"s","payload":{"a":1,"b":[true,null,"x"]}}')).toBe('{"a":1,"b":[true,null,"x"]}');
    expect(payloadOf('{"payload":"héllo 😀","subject":"s"}')).toBe('"héllo 😀"');
    expect(payloadOf('{ "subject" : "s" , "payload" : 12.5 }'), 'space outside the payload is fine').toBe('12.5');
    expect(payloadOf('{"subject":"é","payload":["\\n\\"",false]}')).toBe('["\\n\\"",false]');
    expect(payloadOf('{"payload":{"b":1,"a":2}}'), 'keys out of order').toBeUndefined();
    expect(payloadOf('{"payload":{"a":1, "b":2}}'), 'space inside').toBeUndefined();
    expect(payloadOf('{"payload":{"a":1,"a":2}}'), 'a duplicate key').toBeUndefined();
    expect(payloadOf('{"payload":1e2}'), 'a number JSON.stringify writes otherwise').toBeUndefined();
    expect(payloadOf('{"payload":"\\u0041"}'), 'an escape JSON.stringify does not write').toBeUndefined();
    expect(payloadOf('{"payload":"\\/"}')).toBeUndefined();
    expect(payloadOf('{"payload":1,"payload":2}'), 'JSON.parse keeps the second').toBeUndefined();
    expect(payloadOf('{"subject":"s"}')).toBeUndefined();
  });

  it('whenever it answers, the bytes are canonicalJson of the parsed payload (random bodies)', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const atoms = [
      '0',
      '-0',
      '1',
      '1.5',
      '1e3',
      '1E+2',
      '-12',
      'true',
      'false',
      'null',
      '"a"',
      '"\\u00e9"',
      '"é"',
      '"\\""',
      '"\\u001f"',
      '"\\b"',
      '"😀"',
      '"\\ud800"',
      '"\\uD800"',
    ];
    const keys = ['a', 'b', 'B', '10', '9', 'é', '', 'a b'];
    const value = (depth: number): string => {
      const k = rnd(depth > 2 ? 1 : 3);
      const ws = () => (rnd(8) === 0 ? ' ' : '');
      if (k === 0) return atoms[rnd(atoms.length)]!;
      if (k === 1) return `[${Array.from({ length: rnd(3) }, () => ws() + value(depth + 1)).join(',')}]`;
      const n = rnd(4);
      const member = (): string => `${JSON.stringify(keys[rnd(keys.length)])}:${ws()}${value(depth + 1)}`;
      return `{${Array.from({ length: n }, member).join(',')}}`;
    };
    let answered = 0;
    for (let t = 0; t < 3_000; t++) {
      const payload = value(0);
      const text = rnd(2) === 0 ? `{"subject":"s","payload":${payload}}` : `{"payload":${payload} ,"subject":"s"}`;
      const body = parseJsonBody(enc(text)) as { payload: unknown };
      const b = canonicalPayloadBytes(body);
      if (b === undefined) continue;
      answered++;
      expect(dec.decode(b), text).toBe(canonicalJson(body.payload));
    }
    expect(answered, 'enough canonical cases to mean something').toBeGreaterThan(300);
  });

  it('utf8Length is TextEncoder’s length', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a\ud800b', '\udc00', 'x😀é€'])
      expect(utf8Length(s), JSON.stringify(s)).toBe(enc(s).length);
  });
});
