import { readFile } from 'node:fs/promises';
import { nanos } from 'nats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigSchema } from '../../../src/config/schema.js';
import { StreamSpecSchema, type StreamSpec } from '../../../src/core/stream-spec.js';
import { ConsumerManager } from '../../../src/nats/consumer-manager.js';
import { StreamManager } from '../../../src/nats/stream-manager.js';
import { useNatsCluster, useNatsServer } from '../../support/nats-fixture.js';
import { useConnector } from './helpers.js';

async function loadExample(file: string): Promise<StreamSpec[]> {
  const doc = parse(await readFile(new URL(`../../../examples/${file}`, import.meta.url), 'utf8')) as {
    streams: unknown;
  };
  ConfigSchema.parse(doc); // the whole file is a valid net-sync config
  return z.array(StreamSpecSchema).parse(doc.streams);
}

const spec = (over: Partial<z.input<typeof StreamSpecSchema>> = {}): StreamSpec =>
  StreamSpecSchema.parse({
    name: 'CMDS',
    subjects: ['root.solar.command.>'],
    maxAge: '30d',
    maxBytes: '1GiB',
    ...over,
  });

describe('StreamManager', () => {
  it('applies once, then a second apply is a no-op; verify catches a max-age changed behind its back', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    const manager = new StreamManager({ connector });
    const specs = [
      spec(),
      spec({ name: 'TEL', subjects: ['root.solar.telemetry.>'], maxAge: '1m', maxMsgsPerSubject: 10, discard: 'new' }),
    ];

    expect((await manager.apply(specs, { dryRun: true })).map((r) => [r.diff.action, r.outcome])).toEqual([
      ['create', 'planned'],
      ['create', 'planned'],
    ]);
    expect(await connector.manager!.streams.names().next()).toEqual([]);

    const first = await manager.apply(specs);
    expect(first.map((r) => [r.diff.action, r.outcome])).toEqual([
      ['create', 'applied'],
      ['create', 'applied'],
    ]);
    const second = await manager.apply(specs);
    expect(second.map((r) => [r.diff, r.outcome])).toEqual([
      [{ stream: 'CMDS', action: 'none' }, 'unchanged'],
      [{ stream: 'TEL', action: 'none' }, 'unchanged'],
    ]);
    expect(await manager.verify(specs)).toEqual([]);

    const info = await connector.manager!.streams.info('CMDS');
    expect(info.config.max_age).toBe(nanos(30 * 86_400_000));
    expect(info.config.max_bytes).toBe(1 << 30);
    // TEL: 1 min max age lowers the 2 min duplicate window on the server; still no drift.
    expect((await connector.manager!.streams.info('TEL')).config.duplicate_window).toBe(nanos(60_000));

    await connector.manager!.streams.update('CMDS', { max_age: nanos(86_400_000) });
    expect(await manager.verify(specs)).toEqual([
      { stream: 'CMDS', action: 'update', drift: [{ field: 'maxAge', want: 30 * 86_400_000, have: 86_400_000 }] },
    ]);
    const fixed = await manager.apply(specs);
    expect(fixed.map((r) => r.outcome)).toEqual(['applied', 'unchanged']);
    expect(await manager.verify(specs)).toEqual([]);

    await connector.manager!.streams.delete('TEL');
    expect(await manager.verify(specs)).toEqual([{ stream: 'TEL', action: 'create' }]);
  });

  it('declares sources: a filtered one and one in another account (its API prefix); applies, verifies, sees a filter changed by hand', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    const manager = new StreamManager({ connector });
    const acks = 'root.solar.federation.inbound.acks.acme';
    const specs = [
      spec({ name: 'ACME_FED', subjects: ['root.solar.federation.inbound.>'] }),
      spec({
        name: 'FED',
        subjects: ['root.solar.federation.outbound.>'],
        sources: [
          { name: 'ACME_FED', filterSubject: acks },
          {
            name: 'CMDS',
            external: { api: '$JS.beta.API', deliver: 'deliver.beta' },
            filterSubject: 'root.solar.command.x',
          },
        ],
      }),
      spec(),
    ];
    const applied = await manager.apply(specs);
    expect(applied.map((r) => r.error?.message ?? r.outcome)).toEqual(['applied', 'applied', 'applied']);
    expect(await manager.verify(specs)).toEqual([]);
    expect((await manager.apply(specs)).map((r) => r.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    // The source works: a receipt published on the partner's stream is copied in, its subject kept.
    await connector.jetstream!.publish(acks, new TextEncoder().encode('r'));
    await connector.jetstream!.publish('root.solar.federation.inbound.other', new TextEncoder().encode('o'));
    const deadline = Date.now() + 10_000;
    let state = (await connector.manager!.streams.info('FED')).state;
    while (state.messages < 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await connector.manager!.streams.info('FED')).state;
    }
    expect(state.messages).toBe(1);
    expect((await connector.manager!.streams.getMessage('FED', { seq: state.first_seq })).subject).toBe(acks);
    // A filter changed behind our back is drift naming sources; apply puts it back.
    const live = (await connector.manager!.streams.info('FED')).config;
    await connector.manager!.streams.update('FED', {
      ...live,
      sources: live.sources!.map((s) => (s.name === 'ACME_FED' ? { ...s, filter_subject: 'root.solar.>' } : s)),
    });
    const drift = await manager.verify(specs);
    expect(drift).toEqual([expect.objectContaining({ stream: 'FED', action: 'update' })]);
    expect(drift[0]!.action === 'update' && drift[0]!.drift.map((d) => d.field)).toEqual(['sources']);
    expect((await manager.apply(specs)).map((r) => r.outcome)).toEqual(['unchanged', 'applied', 'unchanged']);
    expect(await manager.verify(specs)).toEqual([]);
  });

  it('reports fields the server cannot change in place, and server refusals, without recreating', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    const manager = new StreamManager({ connector });
    await manager.apply([spec()]);
    const [storage] = await manager.apply([spec({ storage: 'memory', maxAge: '1d' })]);
    expect(storage!.outcome).toBe('failed');
    expect(storage!.error).toMatchObject({ code: 'NATS_STREAM_CONFLICT', field: 'storage' });
    expect(storage!.error!.message).toMatch(/storage cannot be changed in place \(file → memory\)/);
    expect((await connector.manager!.streams.info('CMDS')).config.max_age).toBe(nanos(30 * 86_400_000)); // untouched

    const [retention] = await manager.apply([spec({ retention: 'workqueue' })]);
    expect(retention!.error).toMatchObject({ code: 'NATS_STREAM_CONFLICT', field: 'retention' });

    // Overlapping subjects across streams: the server's reason comes back, other streams still apply.
    const results = await manager.apply([
      spec({ name: 'OVERLAP', subjects: ['root.solar.command.a.*'] }),
      spec({ name: 'FINE', subjects: ['fine.>'] }),
    ]);
    expect(results[0]).toMatchObject({ outcome: 'failed', error: { code: 'NATS_STREAM_CONFLICT' } });
    expect(results[0]!.error!.message).toMatch(/subjects overlap with an existing stream \(err_code 10065\)/);
    expect(results[1]!.outcome).toBe('applied');

    // R3 on a single server is refused by the server, reported, not thrown.
    const [r3] = await manager.apply([spec({ name: 'R3', subjects: ['r3.>'], replicas: 3 })]);
    expect(r3).toMatchObject({ outcome: 'failed', error: { code: 'NATS_STREAM_CONFLICT' } });
  });

  it('examples/seed-002.yaml and seed-004.yaml apply and verify on one server, consumers included', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    const manager = new StreamManager({ connector });
    const consumers = new ConsumerManager({ connector });
    const names: Record<string, string[]> = {};
    for (const file of ['seed-002.yaml', 'seed-004.yaml']) {
      const specs = await loadExample(file);
      // Both seeds name a NOTIFICATIONS stream: start clean for each file.
      for (const name of await connector.manager!.streams.names().next()) await connector.manager!.streams.delete(name);
      const applied = [...(await manager.apply(specs)), ...(await consumers.apply(specs))];
      expect(
        applied.filter((r) => r.outcome !== 'applied').map((r) => `${JSON.stringify(r.diff)}: ${r.error?.message}`),
      ).toEqual([]);
      expect(await manager.verify(specs)).toEqual([]);
      expect(await consumers.verify(specs)).toEqual([]);
      expect((await manager.apply(specs)).every((r) => r.outcome === 'unchanged')).toBe(true);
      expect((await consumers.apply(specs)).every((r) => r.outcome === 'unchanged')).toBe(true);
      names[file] = (await consumers.plan(specs)).map((d) => `${d.stream}/${d.consumer}`);
    }
    expect(names['seed-002.yaml']).toEqual([
      'WORKFLOWS/workflow-processor',
      'EVENTS/event-logger',
      'EVENTS/event-analytics',
      'LOGS/log-aggregator',
      'COMMANDS/command-executor',
      'TELEMETRY/metrics-collector',
      'NOTIFICATIONS/notification-dispatcher',
    ]);
    const wq = await connector.manager!.streams.info('AUTH');
    expect(wq.config.max_bytes).toBe(800 * 1024 * 1024);
    // Seed 004's consumer template: AckExplicit, MaxDeliver 5, AckWait 30 s, FilterSubject.
    expect((await connector.manager!.consumers.info('AUTH', 'sfs')).config).toMatchObject({
      ack_policy: 'explicit',
      max_deliver: 5,
      ack_wait: nanos(30_000),
      filter_subject: 'auth.user.>',
    });
  });

  it('examples/seed-003.yaml (R3, memory, workqueue with max msgs per subject, consumers) applies and verifies on a 3-node cluster', async () => {
    const cluster = await useNatsCluster();
    const connector = await useConnector(cluster.urls);
    const manager = new StreamManager({ connector });
    const consumers = new ConsumerManager({ connector });
    const specs = await loadExample('seed-003.yaml');
    const applied = [...(await manager.apply(specs)), ...(await consumers.apply(specs))];
    expect(
      applied.filter((r) => r.outcome !== 'applied').map((r) => `${JSON.stringify(r.diff)}: ${r.error?.message}`),
    ).toEqual([]);
    expect(await manager.verify(specs)).toEqual([]);
    expect(await consumers.verify(specs)).toEqual([]);
    expect((await manager.apply(specs)).every((r) => r.outcome === 'unchanged')).toBe(true);
    expect((await consumers.apply(specs)).every((r) => r.outcome === 'unchanged')).toBe(true);
    // AGENT_POOL: the seed's max-deliver 3, on the R3 stream, replicated like it.
    const pool = await connector.manager!.consumers.info('USER_EVENTS', 'AGENT_POOL');
    expect(pool.config).toMatchObject({
      filter_subject: 'choiros.user.*.action.COMMAND',
      deliver_policy: 'all',
      ack_policy: 'explicit',
      max_deliver: 3,
    });
    expect(pool.cluster?.replicas).toHaveLength(2);
    const users = await connector.manager!.streams.info('USER_EVENTS');
    expect(users.config.num_replicas).toBe(3);
    expect(users.cluster?.replicas).toHaveLength(2);
    const inbox = await connector.manager!.streams.info('AGENT_INBOX');
    expect(inbox.config).toMatchObject({
      retention: 'workqueue',
      storage: 'memory',
      max_msgs_per_subject: 1000,
      num_replicas: 1,
    });
    // The seed as written (AGENT_EVENTS on choiros.agent.>) overlaps AGENT_INBOX: refused.
    const [asWritten] = await manager.apply([
      { ...specs[1]!, name: 'AGENT_EVENTS_SEED', subjects: ['choiros.agent.>'] },
    ]);
    expect(asWritten!.error!.message).toMatch(/subjects overlap/);
  });
});
