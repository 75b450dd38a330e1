import { nanos, type StreamConfig } from 'nats';
import { describe, expect, it } from 'vitest';
import { diffStream, defaultStreams, StreamSpecSchema } from '../../../src/core/stream-spec.js';
import { effectiveSpec, fromStreamConfig, toStreamConfig } from '../../../src/nats/stream-config.js';

const spec = StreamSpecSchema.parse({
  name: 'INBOX',
  subjects: ['a.*.inbox'],
  retention: 'workqueue',
  storage: 'memory',
  maxAge: '1h',
  maxBytes: '512MiB',
  maxMsgsPerSubject: 1000,
  replicas: 3,
  discard: 'new',
});

describe('stream-config', () => {
  it('converts ms to nanos and our enums to the server ones', () => {
    expect(toStreamConfig(spec)).toEqual({
      name: 'INBOX',
      subjects: ['a.*.inbox'],
      retention: 'workqueue',
      storage: 'memory',
      max_age: 3_600_000_000_000,
      max_bytes: 512 * 1024 * 1024,
      max_msgs: -1,
      max_msgs_per_subject: 1000,
      max_msg_size: -1,
      duplicate_window: 120_000_000_000,
      num_replicas: 3,
      discard: 'new',
    });
  });

  it('round-trips every default stream', () => {
    for (const s of defaultStreams('root.solar')) {
      expect(fromStreamConfig(toStreamConfig(s) as StreamConfig)).toEqual(s);
    }
  });

  it('reads a server config, filling absent optional fields with their defaults', () => {
    const server = {
      ...toStreamConfig(spec),
      max_msgs_per_subject: undefined,
      max_msg_size: undefined,
      num_replicas: 0,
    } as unknown as StreamConfig;
    expect(fromStreamConfig(server)).toMatchObject({
      maxMsgsPerSubject: -1,
      maxMsgSize: -1,
      replicas: 1,
      maxAge: 3_600_000,
    });
  });

  it('rejects a retention it does not know as NATS_UNKNOWN naming the field', () => {
    expect(() => fromStreamConfig({ ...toStreamConfig(spec), retention: 'bogus' } as unknown as StreamConfig)).toThrow(
      expect.objectContaining({ code: 'NATS_UNKNOWN', field: 'retention' }),
    );
  });

  it('models the server lowering the duplicate window to a shorter max age', () => {
    const short = StreamSpecSchema.parse({ name: 'S', subjects: ['s'], maxAge: '30s', maxBytes: -1 });
    expect(effectiveSpec(short).duplicateWindow).toBe(30_000);
    expect(toStreamConfig(short).duplicate_window).toBe(nanos(30_000));
    const server = fromStreamConfig(toStreamConfig(short) as StreamConfig);
    expect(diffStream(effectiveSpec(short), server)).toEqual({ stream: 'S', action: 'none' });
    const unlimited = StreamSpecSchema.parse({ name: 'U', subjects: ['u'], maxAge: 0, maxBytes: -1 });
    expect(effectiveSpec(unlimited).duplicateWindow).toBe(120_000);
  });
});
