import { headers as natsHeaders } from 'nats';
import { describe, expect, it } from 'vitest';
import { HeaderBlocks, readPubAck, StreamNames } from '../../../src/nats/wire-format.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

// What the publisher sent before: a nats.js header object, `Nats-Msg-Id` set first, then each header.
function viaNatsJs(msgId: string, headers: Record<string, string>): Uint8Array {
  const h = natsHeaders();
  h.set('Nats-Msg-Id', msgId);
  for (const k in headers) h.set(k, headers[k]!);
  return (h as unknown as { encode(): Uint8Array }).encode();
}

describe('HeaderBlocks', () => {
  it.each([
    ['the commit set', { 'Net-Sync-Correlation-Id': '01JX', 'Net-Sync-Schema-Version': '1', traceparent: '00-a-b-01' }],
    ['no headers', {}],
    ['values trimmed as nats.js does', { 'Net-Sync-Origin': '  peer  ' }],
    ['a non-ASCII value', { 'Net-Sync-Shard': 'shard-é-ü' }],
    ['its own Nats-Msg-Id takes the ID place', { a: '1', 'Nats-Msg-Id': 'own', b: '2' }],
  ])('writes the bytes nats.js writes: %s', (_, headers) => {
    const blocks = new HeaderBlocks();
    expect(Buffer.from(blocks.encode('id-1', headers))).toEqual(Buffer.from(viaNatsJs('id-1', headers)));
  });

  it('never hands out the same bytes twice, across a full slab', () => {
    const blocks = new HeaderBlocks();
    const big = { v: 'x'.repeat(20_000) };
    const seen = Array.from({ length: 30 }, (_, i) => blocks.encode(`id-${i}`, big));
    for (const [i, b] of seen.entries())
      expect(Buffer.from(b).equals(viaNatsJs(`id-${i}`, big)), `block ${i}`).toBe(true);
  });
});

describe('readPubAck', () => {
  it('reads what nats-server 2.9.10 writes, reusing the stream name', () => {
    const names = new StreamNames();
    const a = readPubAck(enc('{"stream":"COMMANDS", "seq":17}'), names);
    const b = readPubAck(enc('{"stream":"COMMANDS", "seq":18,"duplicate": true}'), names);
    expect(a).toEqual({ stream: 'COMMANDS', seq: 17, duplicate: false });
    expect(b).toEqual({ stream: 'COMMANDS', seq: 18, duplicate: true });
    expect(b!.stream).toBe(a!.stream);
    expect(readPubAck(enc('{"stream":"X", "domain":"hub", "seq":3}'), names)).toEqual({
      stream: 'X',
      seq: 3,
      duplicate: false,
    });
    expect(readPubAck(enc('{"stream":"X","seq":3,"duplicate":false}'), names)).toMatchObject({ duplicate: false });
  });

  it.each([
    [
      'an API error',
      '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"},"stream":"T","seq":0}',
    ],
    ['an escaped name', '{"stream":"A\\"B", "seq":1}'],
    ['an unknown field', '{"stream":"A", "seq":1, "batch":"x"}'],
    ['no seq', '{"stream":"A"}'],
    ['an empty stream', '{"stream":"", "seq":1}'],
    ['a negative or fractional seq', '{"stream":"A", "seq":-1}'],
    ['a fraction', '{"stream":"A", "seq":1.5}'],
    ['trailing bytes', '{"stream":"A", "seq":1}x'],
    ['not JSON', 'nope'],
    ['empty', ''],
  ])('leaves %s to JSON.parse (null)', (_, text) => {
    expect(readPubAck(enc(text), new StreamNames())).toBeNull();
  });
});
