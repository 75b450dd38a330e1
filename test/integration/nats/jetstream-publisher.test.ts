import { connect } from 'nats';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { OutboundMessage, PublishResult } from '../../../src/core/ports.js';
import { JetStreamPublisher } from '../../../src/nats/jetstream-publisher.js';
import { headerRecord } from '../../../src/nats/message-headers.js';
import { createNatsMetrics } from '../../../src/nats/metrics.js';
import type { NatsConnector } from '../../../src/nats/nats-connector.js';
import { useNatsCluster, useNatsServer } from '../../support/nats-fixture.js';
import { useConnector, waitFor } from './helpers.js';

let n = 0;
function message(subject: string, body = '{"x":1}', msgId = `id-${++n}`): OutboundMessage {
  return {
    subject,
    body: new TextEncoder().encode(body),
    msgId,
    headers: {
      'Net-Sync-Correlation-Id': msgId,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
  };
}

async function addStream(
  connector: NatsConnector,
  name: string,
  subjects: string[],
  extra: Record<string, unknown> = {},
): Promise<void> {
  await connector.manager!.streams.add({ name, subjects, ...extra });
}

describe('JetStreamPublisher against nats-server 2.9.10', () => {
  it('acks with headers, and a repeated msgId as duplicate', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    await addStream(connector, 'CMD', ['cmd.>']);
    const register = new Registry();
    const publisher = new JetStreamPublisher({ connector, metrics: createNatsMetrics(register) });
    const msg = message('cmd.a.b');
    expect(await publisher.publish(msg)).toEqual({ kind: 'acked', stream: 'CMD', seq: 1, duplicate: false });
    expect(await publisher.publish(msg)).toEqual({ kind: 'acked', stream: 'CMD', seq: 1, duplicate: true });
    const stored = await connector.manager!.streams.getMessage('CMD', { seq: 1 });
    expect(stored.header.get('Nats-Msg-Id')).toBe(msg.msgId);
    expect(stored.header.get('Net-Sync-Correlation-Id')).toBe(msg.msgId);
    expect(stored.header.get('traceparent')).toBe(msg.headers.traceparent);
    const text = await register.metrics();
    expect(text).toContain('net_sync_jetstream_publish_total{result="acked"} 1');
    expect(text).toContain('net_sync_jetstream_publish_total{result="duplicate"} 1');
    expect(text).toContain('net_sync_jetstream_publish_duration_seconds_count 2');
  });

  it('send(): 3,000 in flight at once, each outcome once through one callback, headers stored exactly', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    await addStream(connector, 'CMD', ['cmd.>']);
    const publisher = new JetStreamPublisher({ connector });
    const outcomes = new Map<number, PublishResult[]>();
    const done = (i: number, r: PublishResult): void => {
      outcomes.set(i, [...(outcomes.get(i) ?? []), r]);
    };
    const count = 3_000;
    const msgs = Array.from({ length: count }, (_, i) => ({
      ...message('cmd.many', `{"i":${i}}`, `many-${i}`),
      headers: { 'Net-Sync-Correlation-Id': `many-${i}`, 'Net-Sync-Schema-Version': '1', 'Net-Sync-Origin': ' p ' },
    }));
    // Sent in one synchronous run: the ring of waiting messages grows past its first 1,024.
    for (const [i, m] of msgs.entries()) publisher.send(m, i, done);
    publisher.send(msgs[7]!, count, done); // a duplicate, in flight with the first copy
    await waitFor('every outcome', () => outcomes.size === count + 1);
    const seqs = new Set<number>();
    for (let i = 0; i < count; i++) {
      const [r, ...more] = outcomes.get(i)!;
      expect(more).toEqual([]);
      expect(r).toMatchObject({ kind: 'acked', stream: 'CMD', duplicate: false });
      seqs.add((r as { seq: number }).seq);
    }
    expect(seqs.size).toBe(count);
    expect(outcomes.get(count)).toEqual([{ kind: 'acked', stream: 'CMD', seq: 8, duplicate: true }]);
    const stored = await connector.manager!.streams.getMessage('CMD', { seq: 2_500 });
    const id = stored.header.get('Nats-Msg-Id');
    expect(headerRecord(stored.header)).toEqual({
      'Nats-Msg-Id': id,
      'Net-Sync-Correlation-Id': id,
      'Net-Sync-Schema-Version': '1',
      'Net-Sync-Origin': 'p',
    });
    expect(new TextDecoder().decode(stored.data)).toBe(`{"i":${id.slice('many-'.length)}}`);
  });

  it('a subject past the control line, or not concrete, is refused before sending: the connection stays up', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    await addStream(connector, 'CMD', ['cmd.>']);
    const publisher = new JetStreamPublisher({ connector });
    let reconnects = 0;
    connector.onState((s) => {
      if (s !== 'connected') reconnects++;
    });
    // Sent as is, the server answers "maximum control line exceeded" and drops the connection.
    const long = await publisher.publish(message(`cmd.${'x'.repeat(5 * 1024)}`));
    expect(long).toMatchObject({
      kind: 'failed',
      retryable: false,
      outcomeUnknown: false,
      code: 'NATS_PROTOCOL_LIMIT',
    });
    const spaced = await publisher.publish(message('cmd.a b'));
    expect(spaced).toMatchObject({ kind: 'failed', retryable: false, code: 'NATS_PROTOCOL_LIMIT' });
    const badHeader = await publisher.publish({ ...message('cmd.a'), headers: { traceparent: 'a\r\nX: y' } });
    expect(badHeader).toMatchObject({ kind: 'failed', retryable: false, code: 'NATS_PROTOCOL_LIMIT' });
    // The next message goes through on the same connection.
    expect(await publisher.publish(message('cmd.ok'))).toMatchObject({ kind: 'acked', stream: 'CMD', seq: 1 });
    expect(reconnects).toBe(0);
  });

  it('no stream on the subject → permanent NATS_NO_STREAM', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    const publisher = new JetStreamPublisher({ connector });
    const r = await publisher.publish(message('nowhere.x'));
    expect(r).toMatchObject({ kind: 'failed', retryable: false, outcomeUnknown: false, code: 'NATS_NO_STREAM' });
  });

  it('bigger than max_payload → permanent NATS_PAYLOAD_TOO_LARGE; bigger than max_msg_size → permanent with the server reason', async () => {
    const nats = await useNatsServer({ config: 'max_payload: 2048' });
    const connector = await useConnector([nats.url]);
    await addStream(connector, 'CMD', ['cmd.>']);
    await addStream(connector, 'SMALL', ['small.>'], { max_msg_size: 256 });
    const publisher = new JetStreamPublisher({ connector });
    const big = await publisher.publish(message('cmd.a', 'x'.repeat(4096)));
    expect(big).toMatchObject({ kind: 'failed', retryable: false, code: 'NATS_PAYLOAD_TOO_LARGE' });
    const overStream = await publisher.publish(message('small.a', 'x'.repeat(1024)));
    expect(overStream).toMatchObject({
      kind: 'failed',
      retryable: false,
      outcomeUnknown: false,
      code: 'NATS_PAYLOAD_TOO_LARGE',
    });
    expect(overStream.kind === 'failed' && overStream.reason).toMatch(/message size exceeds maximum allowed.*10054/);
    // The connection survives: the next message goes through.
    expect(await publisher.publish(message('cmd.a'))).toMatchObject({ kind: 'acked' });
  });

  it('publish permission denied → permanent NATS_PERMISSION_DENIED, promptly', async () => {
    const nats = await useNatsServer({
      config: `authorization { users: [
        { user: admin, password: admin }
        { user: svc, password: svc, permissions: { publish: { deny: ["secret.>"] } } }
      ] }`,
    });
    const admin = await connect({ servers: nats.url, user: 'admin', pass: 'admin' });
    await (await admin.jetstreamManager()).streams.add({ name: 'SECRET', subjects: ['secret.>'] });
    await admin.close();
    const connector = await useConnector([nats.url], { user: 'svc', pass: 'svc' });
    const publisher = new JetStreamPublisher({ connector, timeoutMs: 5_000 });
    const t0 = Date.now();
    const [a, b] = await Promise.all([publisher.publish(message('secret.a')), publisher.publish(message('secret.b'))]);
    expect(Date.now() - t0, 'refused at once, not after the 5 s publish timeout').toBeLessThan(4_000);
    for (const r of [a, b]) {
      expect(r).toMatchObject({
        kind: 'failed',
        retryable: false,
        outcomeUnknown: false,
        code: 'NATS_PERMISSION_DENIED',
      });
      expect(r.kind === 'failed' && r.reason).toMatch(/Permissions Violation for Publish to "secret\.[ab]"/);
    }
    expect(connector.state).toBe('connected');
  });

  it('server frozen → NATS_TIMEOUT with outcome unknown; killed → not connected, nothing sent; back → acked', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    await addStream(connector, 'CMD', ['cmd.>']);
    const publisher = new JetStreamPublisher({ connector, timeoutMs: 300 });
    nats.kill('SIGSTOP');
    const frozen = await publisher.publish(message('cmd.frozen'));
    expect(frozen).toMatchObject({ kind: 'failed', retryable: true, outcomeUnknown: true, code: 'NATS_TIMEOUT' });
    nats.kill('SIGCONT');
    nats.kill('SIGKILL');
    await nats.waitExit();
    await waitFor('disconnected', () => publisher.state === 'disconnected');
    const down = await publisher.publish(message('cmd.down'));
    expect(down).toMatchObject({ kind: 'failed', retryable: true, outcomeUnknown: false, code: 'NATS_DISCONNECTED' });
    await nats.restart();
    await connector.waitConnected(10_000);
    // After a restart JetStream may briefly answer 503 while the stream recovers: retry like the committer would.
    let r = await publisher.publish(message('cmd.back', '{}', 'back-1'));
    for (let i = 0; i < 50 && r.kind === 'failed' && r.retryable; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await publisher.publish(message('cmd.back', '{}', 'back-1'));
    }
    expect(r).toMatchObject({ kind: 'acked', stream: 'CMD', duplicate: false });
  });

  it('a stream deleted then recreated: NATS_NO_STREAM, then acked again', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    await addStream(connector, 'CMD', ['cmd.>']);
    const publisher = new JetStreamPublisher({ connector, streamCheckTtlMs: 0 });
    await connector.manager!.streams.delete('CMD');
    expect(await publisher.publish(message('cmd.x'))).toMatchObject({ code: 'NATS_NO_STREAM', retryable: false });
    await addStream(connector, 'CMD', ['cmd.>']);
    expect(await publisher.publish(message('cmd.x'))).toMatchObject({ kind: 'acked' });
  });

  it('503 while the stream exists (its only server is down, R1 on a cluster) → retryable NATS_NO_RESPONDERS', async () => {
    const cluster = await useNatsCluster();
    const admin = await useConnector(cluster.urls);
    const info = await admin.manager!.streams.add({ name: 'R1', subjects: ['r1.>'], num_replicas: 1 });
    const hostIndex = cluster.servers.findIndex((_, i) => `n${i + 1}` === info.cluster?.leader);
    const host = cluster.servers[hostIndex]!;
    const other = cluster.servers[(hostIndex + 1) % 3]!;
    const connector = await useConnector([other.url]);
    const publisher = new JetStreamPublisher({ connector, timeoutMs: 500 });
    expect(await publisher.publish(message('r1.a'))).toMatchObject({ kind: 'acked', stream: 'R1' });
    host.kill('SIGKILL');
    await host.waitExit();
    let r = await publisher.publish(message('r1.b'));
    // Until the route to the dead server is noticed, the request may time out instead.
    for (let i = 0; i < 20 && r.kind === 'failed' && r.code === 'NATS_TIMEOUT'; i++)
      r = await publisher.publish(message('r1.b'));
    expect(r).toMatchObject({ kind: 'failed', retryable: true, outcomeUnknown: false, code: 'NATS_NO_RESPONDERS' });
  });
});
