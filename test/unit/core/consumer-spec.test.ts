import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsumerConfig } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/index.js';
import { ConsumerSpecSchema, diffConsumer } from '../../../src/core/consumer-spec.js';
import { fromConsumerConfig, toConsumerConfig, updatedConsumerConfig } from '../../../src/nats/consumer-config.js';

const dir = mkdtempSync(join(tmpdir(), 'net-sync-consumer-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** The config keys at fault when `consumers` are declared on one stream of `retention`. */
function keysAtFault(consumers: unknown[], retention = 'limits'): string[] {
  const path = join(dir, `${n++}.json`);
  const stream = { name: 'S', subjects: ['s.>'], retention, maxAge: '1d', maxBytes: -1, consumers };
  writeFileSync(path, JSON.stringify({ streams: [stream] }));
  try {
    loadConfig({ file: path, env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => i.key);
  }
  return [];
}

const consumer = (over: Record<string, unknown> = {}) => ConsumerSpecSchema.parse({ name: 'c', ...over });

describe('consumer spec', () => {
  it('defaults to a pull consumer, ack explicit, with the server defaults', () => {
    expect(consumer()).toEqual({
      name: 'c',
      mode: 'pull',
      deliverPolicy: 'all',
      ackPolicy: 'explicit',
      ackWait: 30_000,
      maxDeliver: -1,
      maxAckPending: 1000,
      backoff: [],
    });
    // With backoff the server waits the first step: the spec says so.
    expect(consumer({ backoff: ['1s', '5s'], maxDeliver: 5 }).ackWait).toBe(1_000);
  });

  it('names the key at fault in config errors', () => {
    expect(keysAtFault([{ name: 'a', mode: 'push' }])).toEqual(['streams[0].consumers[0].deliverSubject']);
    expect(keysAtFault([{ name: 'a', deliverSubject: 'x' }])).toEqual(['streams[0].consumers[0].deliverSubject']);
    expect(keysAtFault([{ name: 'a', ackWait: 'soon' }])).toEqual(['streams[0].consumers[0].ackWait']);
    expect(keysAtFault([{ name: 'a', maxDeliver: 0 }])).toEqual(['streams[0].consumers[0].maxDeliver']);
    expect(keysAtFault([{ name: 'a', backoff: ['1s', '2s'], maxDeliver: 2 }])).toEqual([
      'streams[0].consumers[0].maxDeliver',
    ]);
    expect(keysAtFault([{ name: 'a', backoff: ['1s'], ackWait: '30s' }])).toEqual(['streams[0].consumers[0].ackWait']);
    expect(keysAtFault([{ name: 'a', deliverPolicy: 'last-per-subject' }])).toEqual([
      'streams[0].consumers[0].filterSubject',
    ]);
    expect(keysAtFault([{ name: 'a.b' }])).toEqual(['streams[0].consumers[0].name']);
    expect(keysAtFault([{ name: 'a', durable: 'x' }])).toEqual(['streams[0].consumers[0].durable']);
    expect(keysAtFault([{ name: 'a' }, { name: 'a' }])).toEqual(['streams[0].consumers[1].name']);
    // WorkQueue streams take only explicit-ack, deliver-all consumers (nats-server 10098, 10101).
    expect(keysAtFault([{ name: 'a', ackPolicy: 'all', deliverPolicy: 'new' }], 'workqueue')).toEqual([
      'streams[0].consumers[0].ackPolicy',
      'streams[0].consumers[0].deliverPolicy',
    ]);
    expect(keysAtFault([{ name: 'a', mode: 'push', deliverSubject: 'd.a', ackWait: '1m' }])).toEqual([]);
  });

  it('diffs field by field, leaving ack wait and ack pending alone under ack none', () => {
    const want = consumer({ filterSubject: 's.a', maxDeliver: 3 });
    expect(diffConsumer('S', want, undefined)).toEqual({ stream: 'S', consumer: 'c', action: 'create' });
    expect(diffConsumer('S', want, want)).toEqual({ stream: 'S', consumer: 'c', action: 'none' });
    expect(diffConsumer('S', want, { ...want, maxDeliver: 5, filterSubject: undefined })).toEqual({
      stream: 'S',
      consumer: 'c',
      action: 'update',
      drift: [
        { field: 'filterSubject', want: 's.a', have: undefined },
        { field: 'maxDeliver', want: 3, have: 5 },
      ],
    });
    const none = consumer({ ackPolicy: 'none' });
    expect(diffConsumer('S', none, { ...none, ackWait: 30_000, maxAckPending: -1 }).action).toBe('none');
  });

  it('converts to the server config and back without drift', () => {
    for (const spec of [
      consumer(),
      consumer({ mode: 'push', deliverSubject: 'd.x', filterSubject: 's.>', deliverPolicy: 'last-per-subject' }),
      consumer({ backoff: ['1s', '1m'], maxDeliver: 4, maxAckPending: -1, ackPolicy: 'all', deliverPolicy: 'new' }),
    ]) {
      const cfg = toConsumerConfig(spec) as ConsumerConfig;
      expect(diffConsumer('S', spec, fromConsumerConfig(cfg)).action).toBe('none');
    }
    expect(toConsumerConfig(consumer({ backoff: ['1s', '1m'], maxDeliver: 4 }))).toMatchObject({
      ack_wait: 1e9,
      backoff: [1e9, 60e9],
    });
    // An update drops the optional fields the spec no longer has, keeps the server's others.
    const server = { ...toConsumerConfig(consumer({ filterSubject: 's.a', backoff: ['1s'] })), max_waiting: 512 };
    const updated = updatedConsumerConfig(server as ConsumerConfig, consumer());
    expect(updated).not.toHaveProperty('filter_subject');
    expect(updated).not.toHaveProperty('backoff');
    expect(updated).toMatchObject({ max_waiting: 512, ack_wait: 30e9 });
  });
});
