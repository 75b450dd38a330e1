import { headers } from 'nats';
import { describe, expect, it } from 'vitest';
import { JetStreamReader } from '../../../src/nats/jetstream-reader.js';
import type { NatsConnector } from '../../../src/nats/nats-connector.js';
import { useNatsServer } from '../../support/nats-fixture.js';
import { useConnector } from './helpers.js';

async function publishMany(connector: NatsConnector, subjectOf: (i: number) => string, ids: string[]): Promise<void> {
  const js = connector.jetstream!;
  for (let i = 0; i < ids.length; i += 1_000) {
    await Promise.all(
      ids.slice(i, i + 1_000).map((id, j) => {
        const h = headers();
        h.set('Net-Sync-Correlation-Id', id);
        return js.publish(subjectOf(i + j), new TextEncoder().encode(`{"n":${i + j}}`), { msgID: id, headers: h });
      }),
    );
  }
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('JetStreamReader', () => {
  it('finds ids among 10,000 messages on a wildcard subject, fast, and honours sinceMs', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    await connector.manager!.streams.add({ name: 'COMMANDS', subjects: ['root.solar.command.>'] });
    await connector.manager!.streams.add({ name: 'OTHER', subjects: ['other.>'] });
    const before = Array.from({ length: 5_000 }, (_, i) => `a-${i}`);
    const after = Array.from({ length: 5_000 }, (_, i) => `b-${i}`);
    await publishMany(connector, (i) => `root.solar.command.unit${i % 7}.move`, before);
    await pause(50);
    const sinceMs = Date.now();
    await pause(50);
    await publishMany(connector, (i) => `root.solar.command.unit${i % 7}.stop`, after);
    await publishMany(connector, () => 'other.x', ['b-17']); // same id, other stream: not in range

    const reader = new JetStreamReader({ connector });
    const wanted = new Set(['a-0', 'a-4999', 'b-0', 'b-2500', 'b-4999', 'missing']);
    const timed = async (ids: ReadonlySet<string>): Promise<number> => {
      const t = performance.now();
      await reader.findMsgIds('root.solar.command.>', 0, ids);
      return performance.now() - t;
    };
    const t0 = performance.now();
    const all = await reader.findMsgIds('root.solar.command.>', 0, wanted);
    const elapsed = performance.now() - t0;
    expect(elapsed, 'a 10,000-message scan returns (a hang guard, not a benchmark)').toBeLessThan(10_000);
    expect([...all.keys()].sort()).toEqual(['a-0', 'a-4999', 'b-0', 'b-2500', 'b-4999']);
    expect(all.get('a-0')).toEqual({ stream: 'COMMANDS', seq: 1 });
    expect(all.get('b-4999')).toEqual({ stream: 'COMMANDS', seq: 10_000 });

    const recent = await reader.findMsgIds('root.solar.command.>', sinceMs, wanted);
    expect([...recent.keys()].sort()).toEqual(['b-0', 'b-2500', 'b-4999']);

    const narrow = await reader.findMsgIds('root.solar.command.*.stop', 0, new Set(['a-1', 'b-1']));
    expect([...narrow.keys()]).toEqual(['b-1']);

    // Early stop: the first ids are found without reading the rest. Best of 3 against best of 3,
    // so one GC pause or scheduling stall on a loaded machine cannot decide it.
    expect((await reader.findMsgIds('root.solar.command.>', 0, new Set(['a-1']))).get('a-1')).toEqual({
      stream: 'COMMANDS',
      seq: 2,
    });
    const full = Math.min(elapsed, await timed(wanted), await timed(wanted));
    const early = Math.min(await timed(new Set(['a-1'])), await timed(new Set(['a-1'])), await timed(new Set(['a-1'])));
    console.log(
      `[jetstream-reader] whole scan of 10,000 best ${full.toFixed(0)} ms; early stop at seq 2 best ${early.toFixed(0)} ms`,
    );
    expect(early, `early stop ${early.toFixed(0)} ms vs whole scan ${full.toFixed(0)} ms`).toBeLessThan(full);

    // Nothing in range: returns at once instead of waiting for messages.
    const none = await reader.findMsgIds('root.solar.command.>', Date.now() + 60_000, wanted);
    expect(none.size).toBe(0);
    expect((await connector.manager!.consumers.list('COMMANDS').next()).length).toBe(0);
  });

  it('scanAll yields messages with headers and time, across streams for a broad subject', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    await connector.manager!.streams.add({ name: 'CMD', subjects: ['root.solar.command.>'] });
    await connector.manager!.streams.add({ name: 'TEL', subjects: ['root.solar.telemetry.>', 'root.solar.misc'] });
    const t0 = Date.now();
    await publishMany(connector, (i) => (i % 2 === 0 ? 'root.solar.command.a.b' : 'root.solar.telemetry.c.d'), [
      'm0',
      'm1',
      'm2',
      'm3',
    ]);
    await publishMany(connector, () => 'root.solar.misc', ['misc']);
    const reader = new JetStreamReader({ connector });
    const seen = [];
    for await (const m of reader.scanAll('root.solar.>', 0)) seen.push(m);
    expect(seen.map((m) => `${m.stream}:${m.seq}:${m.subject}:${m.msgId}`).sort()).toEqual([
      'CMD:1:root.solar.command.a.b:m0',
      'CMD:2:root.solar.command.a.b:m2',
      'TEL:1:root.solar.telemetry.c.d:m1',
      'TEL:2:root.solar.telemetry.c.d:m3',
      'TEL:3:root.solar.misc:misc',
    ]);
    const first = seen.find((m) => m.msgId === 'm0')!;
    expect(first.headers['Net-Sync-Correlation-Id']).toBe('m0');
    expect(new TextDecoder().decode(first.data)).toBe('{"n":0}');
    expect(first.timeMs).toBeGreaterThanOrEqual(t0 - 1_000);
    expect(first.timeMs).toBeLessThanOrEqual(Date.now() + 1_000);
  });

  it('ends at the last sequence of call time while publishers keep going', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    await connector.manager!.streams.add({ name: 'CMD', subjects: ['cmd.>'] });
    await publishMany(
      connector,
      () => 'cmd.x',
      Array.from({ length: 2_000 }, (_, i) => `p-${i}`),
    );
    let running = true;
    let k = 0;
    const background = (async () => {
      while (running)
        await publishMany(
          connector,
          () => 'cmd.x',
          Array.from({ length: 200 }, () => `q-${k++}`),
        );
    })();
    const reader = new JetStreamReader({ connector, batch: 256 });
    const found = await reader.findMsgIds('cmd.>', 0, new Set(['p-1999', 'never']));
    running = false;
    await background;
    expect(found.get('p-1999')).toEqual({ stream: 'CMD', seq: 2_000 });
  });

  it('rejects with NATS_DISCONNECTED when not connected, and ABORTED on an aborted signal', async () => {
    const nats = await useNatsServer();
    const connector = await useConnector([nats.url]);
    const reader = new JetStreamReader({ connector });
    await expect(reader.findMsgIds('x.>', 0, new Set(['a']), AbortSignal.abort())).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await connector.stop();
    await expect(reader.findMsgIds('x.>', 0, new Set(['a']))).rejects.toMatchObject({ code: 'NATS_DISCONNECTED' });
  });
});
