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

  it('sends sources in the server terms (domain as its API prefix) and reads them back', () => {
    const fed = StreamSpecSchema.parse({
      name: 'FEDERATION',
      subjects: ['root.solar.federation.>'],
      maxAge: '30d',
      maxBytes: '1GiB',
      sources: [
        {
          name: 'ACME_FED',
          filterSubject: 'root.solar.federation.inbound.acks.acme',
          external: { api: '$JS.acme.API', deliver: 'deliver.acme' },
        },
        { name: 'BETA_FED', domain: 'beta' },
      ],
    });
    const cfg = toStreamConfig(fed);
    expect(cfg.sources).toEqual([
      {
        name: 'ACME_FED',
        filter_subject: 'root.solar.federation.inbound.acks.acme',
        external: { api: '$JS.acme.API', deliver: 'deliver.acme' },
      },
      { name: 'BETA_FED', external: { api: '$JS.beta.API', deliver: '' } },
    ]);
    const back = fromStreamConfig(cfg as StreamConfig);
    expect(back.sources).toEqual([fed.sources![0], { name: 'BETA_FED', external: { api: '$JS.beta.API' } }]);
    expect(diffStream(fed, back)).toEqual({ stream: 'FEDERATION', action: 'none' });
    // Order does not matter; a changed filter, a missing source or an extra one is drift.
    expect(diffStream(fed, { ...back, sources: [...back.sources!].reverse() }).action).toBe('none');
    const moved = { ...back, sources: [{ ...back.sources![0]!, filterSubject: 'root.solar.>' }, back.sources![1]!] };
    expect(diffStream(fed, moved)).toMatchObject({ action: 'update', drift: [{ field: 'sources' }] });
    expect(diffStream(fed, { ...back, sources: undefined })).toMatchObject({ action: 'update' });
    // Absent from the spec: not managed (neither compared nor sent; an update keeps the server's).
    const { sources: _, ...unmanaged } = fed;
    expect(diffStream(unmanaged as typeof fed, back).action).toBe('none');
    expect(toStreamConfig(unmanaged as typeof fed).sources).toBeUndefined();
    // A stream filled by sources alone needs no subjects.
    expect(
      StreamSpecSchema.parse({
        name: 'ORG_EVENTS',
        maxAge: 0,
        maxBytes: -1,
        sources: [{ name: 'FEDERATION', domain: 'org' }],
      }).subjects,
    ).toEqual([]);
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
