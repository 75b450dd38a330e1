// The max-deliveries advisory as nats-server 2.9.10 sends it (captured from a real server).
import { describe, expect, it } from 'vitest';
import { parseMaxDeliveries } from '../../../src/nats/inbox-advisories.js';

const encode = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

describe('parseMaxDeliveries', () => {
  it("reads nats-server 2.9.10's io.nats.jetstream.advisory.v1.max_deliver", () => {
    const captured =
      '{"type":"io.nats.jetstream.advisory.v1.max_deliver","id":"ZURBtWENgWhtql3HV7dGZu",' +
      '"timestamp":"2026-12-07T10:51:07.043093063Z","stream":"S","consumer":"C","stream_seq":1,"deliveries":2}';
    expect(parseMaxDeliveries(encode(captured))).toEqual({ stream: 'S', consumer: 'C', streamSeq: 1, deliveries: 2 });
  });

  it('answers undefined for anything else', () => {
    expect(parseMaxDeliveries(encode('not json'))).toBeUndefined();
    expect(parseMaxDeliveries(encode({ stream: 'S', consumer: 'C', stream_seq: '1', deliveries: 2 }))).toBeUndefined();
    expect(parseMaxDeliveries(encode({ stream: 'S', stream_seq: 1, deliveries: 2 }))).toBeUndefined();
    expect(parseMaxDeliveries(encode(null))).toBeUndefined();
  });
});
