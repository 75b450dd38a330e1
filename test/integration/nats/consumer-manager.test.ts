import { nanos } from 'nats';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { ConsumerSpecSchema } from '../../../src/core/consumer-spec.js';
import { StreamSpecSchema, type StreamSpec } from '../../../src/core/stream-spec.js';
import { ConsumerManager } from '../../../src/nats/consumer-manager.js';
import { StreamManager } from '../../../src/nats/stream-manager.js';
import { useNatsServer } from '../../support/nats-fixture.js';
import { useConnector } from './helpers.js';

type ConsumerInput = z.input<typeof ConsumerSpecSchema>;

const stream = (consumers: ConsumerInput[], over: Record<string, unknown> = {}): StreamSpec =>
  StreamSpecSchema.parse({ name: 'S', subjects: ['s.>'], maxAge: '1d', maxBytes: -1, consumers, ...over });

describe('ConsumerManager on nats-server 2.9', () => {
  it('creates, leaves alone, updates what 2.9 lets change, and refuses the rest naming the field', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    const streams = new StreamManager({ connector });
    const consumers = new ConsumerManager({ connector });
    const jsm = connector.manager!;
    const base: ConsumerInput[] = [
      { name: 'pull', filterSubject: 's.a.>', maxDeliver: 5, ackWait: '10s' },
      { name: 'push', mode: 'push', deliverSubject: 'deliver.push', deliverPolicy: 'new', ackPolicy: 'all' },
      { name: 'quiet', ackPolicy: 'none', deliverPolicy: 'last' },
      { name: 'backoff', backoff: ['1s', '5s'], maxDeliver: 4, maxAckPending: 1 },
    ];
    // A dry run before the stream exists plans creations and touches nothing.
    const planned = await consumers.apply([stream(base)], { dryRun: true });
    expect(planned.map((r) => [r.diff.action, r.outcome])).toEqual(Array(4).fill(['create', 'planned']));
    await streams.apply([stream(base)]);
    expect((await consumers.apply([stream(base)])).map((r) => `${r.diff.consumer}:${r.outcome}`)).toEqual([
      'pull:applied',
      'push:applied',
      'quiet:applied',
      'backoff:applied',
    ]);
    expect((await consumers.apply([stream(base)])).every((r) => r.outcome === 'unchanged')).toBe(true);
    expect(await consumers.verify([stream(base)])).toEqual([]);
    expect((await jsm.consumers.info('S', 'backoff')).config).toMatchObject({
      ack_wait: nanos(1_000),
      backoff: [nanos(1_000), nanos(5_000)],
      max_ack_pending: 1,
    });

    // Changed behind its back: verify names the field, apply puts it back.
    await jsm.consumers.update('S', 'pull', { max_deliver: 9 });
    expect(await consumers.verify([stream(base)])).toEqual([
      { stream: 'S', consumer: 'pull', action: 'update', drift: [{ field: 'maxDeliver', want: 5, have: 9 }] },
    ]);

    // Fields 2.9 updates in place: ack wait, max deliver, max ack pending, filter (set, changed,
    // dropped), backoff (dropped), a push consumer's deliver subject.
    const mutable: ConsumerInput[] = [
      { name: 'pull', filterSubject: 's.b.>', maxDeliver: 3, ackWait: '20s', maxAckPending: 7 },
      { name: 'push', mode: 'push', deliverSubject: 'deliver.push2', deliverPolicy: 'new', ackPolicy: 'all' },
      { name: 'quiet', ackPolicy: 'none', deliverPolicy: 'last', filterSubject: 's.q' },
      { name: 'backoff', maxDeliver: 4, maxAckPending: 1, ackWait: '3s' },
    ];
    const updated = await consumers.apply([stream(mutable)]);
    expect(updated.map((r) => `${r.diff.consumer}:${r.outcome}:${r.error?.message ?? ''}`)).toEqual([
      'pull:applied:',
      'push:applied:',
      'quiet:applied:',
      'backoff:applied:',
    ]);
    expect(await consumers.verify([stream(mutable)])).toEqual([]);
    const pull = (await jsm.consumers.info('S', 'pull')).config;
    expect(pull).toMatchObject({ filter_subject: 's.b.>', max_deliver: 3, ack_wait: nanos(20_000) });
    expect((await jsm.consumers.info('S', 'backoff')).config.backoff).toBeUndefined();
    // Dropping the filter again clears it on the server.
    await consumers.apply([stream([{ ...mutable[0]!, filterSubject: undefined }])]);
    expect((await jsm.consumers.info('S', 'pull')).config.filter_subject).toBeUndefined();

    // Fields 2.9 refuses to change (err_code 10012, or pull ⇄ push): refused before asking, server untouched.
    const refused = await consumers.apply([
      stream([
        { name: 'pull', deliverPolicy: 'new', maxDeliver: 3, ackWait: '20s', maxAckPending: 7 },
        { name: 'push', mode: 'push', deliverSubject: 'deliver.push2', deliverPolicy: 'new', ackPolicy: 'explicit' },
        { name: 'quiet', mode: 'push', deliverSubject: 'deliver.quiet', ackPolicy: 'none', deliverPolicy: 'last' },
      ]),
    ]);
    expect(refused.map((r) => [r.outcome, r.error?.code, r.error?.field])).toEqual([
      ['failed', 'NATS_STREAM_CONFLICT', 'deliverPolicy'],
      ['failed', 'NATS_STREAM_CONFLICT', 'ackPolicy'],
      ['failed', 'NATS_STREAM_CONFLICT', 'mode'],
    ]);
    expect(refused[0]!.error!.message).toMatch(/deliverPolicy cannot be changed in place \(all → new\)/);
    expect((await jsm.consumers.info('S', 'pull')).config.deliver_policy).toBe('all');

    // The server's own refusals come back with its reason; the others still apply.
    const mixed = await consumers.apply([
      stream([
        { name: 'outside', filterSubject: 'elsewhere.>' },
        { name: 'fine', filterSubject: 's.f' },
      ]),
      stream(
        [
          { name: 'w1', filterSubject: 'w.>' },
          { name: 'w2', filterSubject: 'w.a' },
        ],
        {
          name: 'W',
          subjects: ['w.>'],
          retention: 'workqueue',
        },
      ),
    ]);
    expect(mixed.map((r) => `${r.diff.consumer}:${r.outcome}`)).toEqual([
      'outside:failed',
      'fine:applied',
      // W does not exist yet: its consumers fail with the server's reason.
      'w1:failed',
      'w2:failed',
    ]);
    expect(mixed[0]!.error!.message).toMatch(/not a valid subset of the interest subjects \(err_code 10093\)/);
    expect(mixed[2]!.error!.message).toMatch(/stream not found/);
    const wq = stream(
      [
        { name: 'w1', filterSubject: 'w.>' },
        { name: 'w2', filterSubject: 'w.a' },
      ],
      {
        name: 'W',
        subjects: ['w.>'],
        retention: 'workqueue',
      },
    );
    await streams.apply([wq]);
    const overlapping = await consumers.apply([wq]);
    expect(overlapping.map((r) => r.outcome)).toEqual(['applied', 'failed']);
    expect(overlapping[1]!.error!.message).toMatch(/filtered consumer not unique on workqueue stream/);
  });
});
