import { describe, expect, test } from 'vitest';
import { Registry } from 'prom-client';
import { TelemetryEmitter } from '../../../src/telemetry/telemetry-emitter.js';
import { createTelemetryMetrics, type TelemetryMetrics } from '../../../src/telemetry/metrics.js';
import { TelemetryScout } from '../../../src/telemetry/telemetry-scout.js';
import type { TelemetryEnvelope } from '../../../src/core/envelope.js';
import type { TelemetrySummary } from '../../../src/core/telemetry-summary.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { seededRandom } from '../../support/seeded-random.js';

const T0 = 1_700_000_000_000;
const WINDOW = { windowMs: 1_000, allowedLatenessMs: 500, maxPoints: 100_000 };
const decoder = new TextDecoder();

interface Node {
  id: string;
  emitter: TelemetryEmitter;
  scout: TelemetryScout | null;
  outbox: MemoryOutbox;
  alive: boolean;
  net: Net;
  metrics: TelemetryMetrics;
}

/** The links: while `cut`, nodes of different sides hear nothing of each other (batches and heartbeats alike). */
interface Net {
  cut: boolean;
  side: Map<string, number>;
  /** Drops one delivery: gossip lost to one scout only. */
  drop?: (env: TelemetryEnvelope, to: string) => boolean;
}

const reach = (net: Net, a: string, b: string): boolean => !net.cut || net.side.get(a) === net.side.get(b);

/** A tiny mesh: every batch reaches every live scout it can reach (the origin's own one directly). */
function cluster(
  clock: ManualClock,
  ids: string[],
  scouts: string[],
  maxPoints = WINDOW.maxPoints,
  sides: string[][] = [ids],
): Node[] {
  const nodes: Node[] = [];
  const net: Net = { cut: false, side: new Map(sides.flatMap((side, i) => side.map((id) => [id, i] as const))) };
  const deliver = (env: TelemetryEnvelope): void => {
    for (const n of nodes) {
      if (
        n.alive &&
        n.scout !== null &&
        n.id !== env.origin &&
        reach(net, env.origin, n.id) &&
        net.drop?.(env, n.id) !== true
      )
        n.scout.ingest(structuredClone(env));
    }
  };
  for (const id of ids) {
    const outbox = new MemoryOutbox();
    const metrics = createTelemetryMetrics(new Registry());
    const scout = scouts.includes(id)
      ? new TelemetryScout({
          peerId: id,
          clock,
          outbox,
          wakeCommitter: () => {},
          prefix: 'root.solar',
          subjectMap: {},
          allowedLatenessMs: 500,
          closeSlackMs: 500,
          maxPoints,
          heartbeatMs: 1_000,
          handoffHoldMs: 8_000,
          sinceMs: 0,
          logger: silentLogger(),
          metrics,
        })
      : null;
    const emitter = new TelemetryEmitter({
      origin: id,
      clock,
      rules: { ...WINDOW, maxPoints },
      batchMs: 100,
      batchMaxPoints: 500,
      maxQueuedPoints: 1e6,
      logger: silentLogger(),
      gossip: { publish: async (env: TelemetryEnvelope) => deliver(env) } as never,
      localScout: scout === null ? null : (env: TelemetryEnvelope) => scout.ingest(env),
    });
    nodes.push({ id, emitter, scout, outbox, alive: true, net, metrics });
  }
  return nodes;
}

/** Every live node heartbeats (scouts with their role, every origin with its watermark), as TelemetryWiring does. */
function heartbeats(nodes: Node[], clock: ManualClock): void {
  for (const a of nodes) {
    if (!a.alive) continue;
    const mark = a.emitter.watermark();
    const watermark = mark === null ? undefined : { ...mark, atMs: clock.now() };
    const roles = a.scout === null ? [] : ['scout'];
    for (const b of nodes)
      if (b.alive && b.scout !== null && reach(a.net, a.id, b.id)) b.scout.heartbeat(a.id, roles, 0, watermark);
  }
}

async function step(clock: ManualClock, nodes: Node[], ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    clock.advance(100);
    await Promise.resolve();
    if (t % 1_000 === 0) heartbeats(nodes, clock);
    for (const n of nodes) if (n.alive) await n.scout?.tick();
  }
}

function summaries(nodes: Node[]): Map<string, { summary: TelemetrySummary; body: string; by: string[] }> {
  const out = new Map<string, { summary: TelemetrySummary; body: string; by: string[] }>();
  for (const n of nodes) {
    for (const r of n.outbox.listByState(['pending-commit'], 1e6)) {
      if (!r.correlationId.startsWith('tlm-')) continue;
      const body = decoder.decode(r.body);
      const seen = out.get(r.correlationId);
      if (seen !== undefined) {
        expect(body, `two scouts, one ID ${r.correlationId}, different bodies`).toBe(seen.body);
        seen.by.push(n.id);
      } else {
        out.set(r.correlationId, { summary: JSON.parse(body) as TelemetrySummary, body, by: [n.id] });
      }
    }
  }
  return out;
}

async function outcomes(n: Node): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await n.metrics.summaries.get()).values) out[String(v.labels['outcome'])] = v.value;
  return out;
}

function emit(clock: ManualClock, nodes: Node[], perNode: number, rnd: () => number): number {
  let total = 0;
  for (const n of nodes) {
    const points = Array.from({ length: perNode }, () => ({
      metric: rnd() < 0.5 ? 'sentiment.delta' : 'agent.load',
      value: rnd() * 10,
      tags: {},
      ts: clock.now() - Math.floor(rnd() * 50),
    }));
    n.emitter.accept(points);
    total += points.length;
  }
  return total;
}

describe('TelemetryScout', () => {
  test('two scouts: every point counted once, each (origin, window, metric) written by one owner', async () => {
    const clock = new ManualClock(T0);
    const nodes = cluster(clock, ['A', 'B', 'C', 'D', 'E'], ['A', 'B']);
    heartbeats(nodes, clock);
    const rnd = seededRandom(11);
    let total = 0;
    for (let i = 0; i < 30; i++) {
      total += emit(clock, nodes, 40, rnd);
      await step(clock, nodes, 100);
    }
    await step(clock, nodes, 3_000);
    const all = summaries(nodes);
    expect([...all.values()].reduce((n, s) => n + s.summary.count, 0)).toBe(total);
    for (const [id, s] of all) expect(s.by, id).toHaveLength(1);
    const writers = new Set([...all.values()].map((s) => s.by[0]));
    expect(writers).toEqual(new Set(['A', 'B'])); // both own some origins
    const keys = [...all.values()].map((s) => `${s.summary.origin}/${s.summary.windowStart}/${s.summary.metric}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const s of all.values()) expect(s.summary.windowStart % 1_000).toBe(0);
  });

  test("failover: the survivor writes the dead owner's held and later windows, counts stay exact", async () => {
    const clock = new ManualClock(T0);
    const nodes = cluster(clock, ['A', 'B', 'C', 'D', 'E', 'F'], ['A', 'B']);
    heartbeats(nodes, clock);
    const rnd = seededRandom(5);
    let total = 0;
    for (let i = 0; i < 40; i++) {
      total += emit(
        clock,
        nodes.filter((n) => n.id !== 'A'),
        30,
        rnd,
      );
      if (i === 17) nodes[0]!.alive = false; // SIGKILL A: windows in flight, some closed but held by B
      await step(clock, nodes, 100);
    }
    await step(clock, nodes, 12_000);
    const all = summaries(nodes);
    expect([...all.values()].reduce((n, s) => n + s.summary.count, 0)).toBe(total);
    const ownedByA = new Set([...all.values()].filter((s) => s.by.includes('A')).map((s) => s.summary.origin));
    expect(ownedByA.size).toBeGreaterThan(0);
    const takenOver = [...all.values()].filter((s) => s.by.includes('B') && ownedByA.has(s.summary.origin));
    expect(takenOver.length).toBeGreaterThan(0);
  });

  test('partition: each side publishes what it hears; shared windows share IDs and bodies, none twice', async () => {
    const clock = new ManualClock(T0);
    const nodes = cluster(clock, ['A', 'B', 'C', 'D'], ['A', 'B']);
    heartbeats(nodes, clock);
    const rnd = seededRandom(9);
    let total = 0;
    const [a, b] = nodes;
    for (let i = 0; i < 60; i++) {
      total += emit(clock, nodes, 20, rnd);
      clock.advance(100);
      await Promise.resolve();
      // Scouts A and B cannot hear each other's heartbeats from 1 s to 4 s; origins still reach both.
      if (i % 10 === 0 && (i < 10 || i >= 40)) heartbeats(nodes, clock);
      await a!.scout!.tick();
      await b!.scout!.tick();
    }
    await step(clock, nodes, 12_000);
    const all = summaries(nodes); // asserts equal bodies for equal IDs
    expect([...all.values()].reduce((n, s) => n + s.summary.count, 0)).toBe(total);
    expect([...all.values()].some((s) => s.by.length === 2)).toBe(true); // both sides wrote some windows
  });

  test('a full part flushes at once; a batch after close is a straggler, still counted', async () => {
    const clock = new ManualClock(T0);
    const [a] = cluster(clock, ['A'], ['A'], 3);
    a!.emitter.accept(Array.from({ length: 7 }, (_, i) => ({ metric: 'm', value: i, tags: {}, ts: T0 + i })));
    a!.emitter.flush();
    await a!.scout!.tick();
    const parts = summaries([a!]);
    expect([...parts.values()].map((s) => [s.summary.part, s.summary.count])).toEqual([
      [0, 3],
      [1, 3],
    ]);
    await step(clock, [a!], 2_100);
    expect(summaries([a!]).size).toBe(3);
    // A batch that comes in after the window closed here (a stall longer than closeSlackMs).
    const late: TelemetryEnvelope = {
      schemaVersion: 1,
      kind: 'telemetry',
      origin: 'Z',
      epoch: 1,
      seq: 0,
      sentAtMs: T0 + 100,
      windowMs: 1_000,
      series: [
        { metric: 'm', window: T0, part: 0, ts: new Float64Array([T0 + 1, T0 + 2]), v: new Float64Array([1, 2]) },
      ],
    };
    a!.scout!.ingest(late);
    await step(clock, [a!], 1_000);
    const straggler = [...summaries([a!]).values()].find((s) => s.summary.straggler);
    expect(straggler?.summary).toMatchObject({ origin: 'Z', count: 2, windowStart: T0, straggler: true });
  });

  test('late points at the origin go to a separate late summary of the current window', async () => {
    const clock = new ManualClock(T0 + 5_000);
    const [a] = cluster(clock, ['A'], ['A']);
    a!.emitter.accept([
      { metric: 'm', value: 1, tags: {}, ts: T0 },
      { metric: 'm', value: 2, tags: {}, ts: T0 + 5_001 },
    ]);
    await step(clock, [a!], 3_000);
    const all = [...summaries([a!]).values()].map((s) => [
      s.summary.windowStart,
      s.summary.late,
      s.summary.count,
      s.summary.firstTs,
    ]);
    expect(all.sort()).toEqual(
      [
        [T0 + 5_000, false, 1, T0 + 5_001],
        [T0 + 5_000, true, 1, T0],
      ].sort(),
    );
  });

  test('real partition (batches, heartbeats cut): each side its origins; healed, each window once, whole', async () => {
    const clock = new ManualClock(T0);
    const nodes = cluster(clock, ['A', 'B', 'C', 'D'], ['A', 'B'], WINDOW.maxPoints, [
      ['A', 'C'],
      ['B', 'D'],
    ]);
    heartbeats(nodes, clock);
    const rnd = seededRandom(21);
    let total = 0;
    for (let i = 0; i < 100; i++) {
      if (i === 15) nodes[0]!.net.cut = true; // 1.5 s: mid-window, batches in flight on both sides
      if (i === 65) nodes[0]!.net.cut = false; // 6.5 s
      total += emit(clock, nodes, 20, rnd);
      await step(clock, nodes, 100);
    }
    await step(clock, nodes, 12_000);
    const all = summaries(nodes); // asserts equal bodies for equal IDs
    const list = [...all.values()];
    expect(list.reduce((n, x) => n + x.summary.count, 0)).toBe(total);
    const keys = list.map(
      (x) => `${x.summary.origin}/${x.summary.windowStart}/${x.summary.metric}/${x.summary.part}/${x.summary.late}`,
    );
    expect(new Set(keys).size).toBe(keys.length);
    for (const x of list) expect(x.summary.straggler).toBe(false);
    // Windows wholly inside the cut (after both scouts dropped each other at ~4.5 s): written by the origin's side.
    for (const x of list.filter((y) => y.summary.windowStart >= T0 + 5_000 && y.summary.windowEnd <= T0 + 6_500)) {
      expect(x.by, `${x.summary.origin} ${x.summary.windowStart}`).toEqual([
        ['C', 'A'].includes(x.summary.origin) ? 'A' : 'B',
      ]);
    }
    const [a, b] = await Promise.all([outcomes(nodes[0]!), outcomes(nodes[1]!)]);
    expect(a['incomplete']! + b['incomplete']!).toBeGreaterThan(0); // far-side windows around the cut and the heal
  });

  test('cut under the liveness limit: the owner misses batches; a scout with the whole window publishes', async () => {
    const clock = new ManualClock(T0);
    const nodes = cluster(clock, ['A', 'B', 'C', 'D'], ['A', 'B'], WINDOW.maxPoints, [
      ['A', 'C'],
      ['B', 'D'],
    ]);
    heartbeats(nodes, clock);
    const rnd = seededRandom(22);
    let total = 0;
    for (let i = 0; i < 60; i++) {
      if (i === 15) nodes[0]!.net.cut = true;
      if (i === 35) nodes[0]!.net.cut = false; // 2 s: no scout expires
      total += emit(clock, nodes, 20, rnd);
      await step(clock, nodes, 100);
    }
    await step(clock, nodes, 12_000);
    const list = [...summaries(nodes).values()];
    expect(list.reduce((n, x) => n + x.summary.count, 0)).toBe(total);
    const [a, b] = await Promise.all([outcomes(nodes[0]!), outcomes(nodes[1]!)]);
    expect(a['taken-over']! + b['taken-over']!).toBe(0);
    expect(a['backup']! + b['backup']!).toBeGreaterThan(0);
    expect(a['incomplete']! + b['incomplete']!).toBeGreaterThan(0);
  });

  test('an origin that dies: its last windows are published from what reached the scouts (none silent)', async () => {
    const clock = new ManualClock(T0);
    const nodes = cluster(clock, ['A', 'B', 'C'], ['A', 'B']);
    await step(clock, nodes, 3_000); // scouts know each other as steady since before the first window
    const rnd = seededRandom(23);
    let total = 0;
    for (let i = 0; i < 25; i++) {
      total += emit(clock, [nodes[2]!], 20, rnd);
      await step(clock, nodes, 100);
    }
    nodes[2]!.emitter.flush();
    nodes[2]!.alive = false; // no more batches, no more watermarks
    await step(clock, nodes, 15_000);
    const list = [...summaries(nodes).values()];
    expect(list.reduce((n, x) => n + x.summary.count, 0)).toBe(total);
    // The owner publishes; the runner-up publishes its whole copy too (same ID, same body: JetStream keeps one).
    for (const x of list) expect([...x.by].sort()).toEqual(['A', 'B']);
  });

  test('the owner alone misses a batch, every heartbeat steady: the runner-up publishes the window whole', async () => {
    const clock = new ManualClock(T0);
    const nodes = cluster(clock, ['A', 'B', 'C'], ['A', 'B']);
    await step(clock, nodes, 3_000);
    const owner = nodes[0]!.scout!.directory.owner('C', clock.now(), clock.now())!;
    let lost = 0;
    nodes[0]!.net.drop = (env, to) => {
      const hit = to === owner && env.origin === 'C' && env.seq === 12;
      if (hit) lost += env.series.reduce((n, x) => n + x.ts.length, 0);
      return hit;
    };
    const rnd = seededRandom(24);
    let total = 0;
    for (let i = 0; i < 30; i++) {
      total += emit(clock, [nodes[2]!], 20, rnd);
      await step(clock, nodes, 100);
    }
    await step(clock, nodes, 15_000);
    expect(lost).toBeGreaterThan(0);
    const list = [...summaries(nodes).values()];
    expect(list.reduce((n, x) => n + x.summary.count, 0)).toBe(total);
    const [o, r] = await Promise.all([
      outcomes(nodes.find((n) => n.id === owner)!),
      outcomes(nodes.find((n) => n.scout !== null && n.id !== owner)!),
    ]);
    expect(o['incomplete']).toBeGreaterThan(0); // the owner gave the windows with the gap up…
    expect((await nodes.find((n) => n.id === owner)!.metrics.gaps.get()).values[0]!.value).toBe(1); // (the one batch)
    expect(r['backup']).toBeGreaterThan(0); // …and the runner-up's whole copies stand in
  });

  test('a batch delivered twice (a gossip replay) is counted once', async () => {
    const clock = new ManualClock(T0);
    const [a] = cluster(clock, ['A'], ['A']);
    const env: TelemetryEnvelope = {
      schemaVersion: 1,
      kind: 'telemetry',
      origin: 'Z',
      epoch: 1,
      seq: 0,
      sentAtMs: T0 + 100,
      windowMs: 1_000,
      series: [
        { metric: 'm', window: T0, part: 0, ts: new Float64Array([T0 + 1, T0 + 2]), v: new Float64Array([1, 2]) },
      ],
    };
    a!.scout!.ingest(env);
    a!.scout!.ingest(structuredClone(env));
    await step(clock, [a!], 3_000);
    expect([...summaries([a!]).values()].map((x) => x.summary.count)).toEqual([2]);
  });
});

describe('an origin that summarises its own points (telemetry.summarise: origin)', () => {
  const scoutOf = (id: string, clock: ManualClock, outbox: MemoryOutbox, sinceMs: number): TelemetryScout =>
    new TelemetryScout({
      peerId: id,
      clock,
      outbox,
      wakeCommitter: () => {},
      prefix: 'root.solar',
      subjectMap: {},
      allowedLatenessMs: 500,
      closeSlackMs: 500,
      maxPoints: WINDOW.maxPoints,
      heartbeatMs: 1_000,
      handoffHoldMs: 8_000,
      sinceMs,
      logger: silentLogger(),
    });
  const rows = (outbox: MemoryOutbox) =>
    outbox
      .listByState(['pending-commit'], 1e6)
      .map((r) => ({ id: r.correlationId, subject: r.subject, body: decoder.decode(r.body) }))
      .sort((a, b) => a.id.localeCompare(b.id));

  test('writes the IDs, subjects, bodies a scout hearing its batches writes; a clean stop closes windows', async () => {
    const clock = new ManualClock(T0 + 300);
    const localOutbox = new MemoryOutbox();
    const scoutOutbox = new MemoryOutbox();
    // The origin's own summariser, as TelemetryWiring builds it: from the current window on.
    const local = scoutOf('origin', clock, localOutbox, Math.floor(clock.now() / 1_000) * 1_000);
    const scout = scoutOf('scout', clock, scoutOutbox, 0);
    const emitter = new TelemetryEmitter({
      origin: 'origin',
      clock,
      rules: WINDOW,
      batchMs: 100,
      batchMaxPoints: 500,
      maxQueuedPoints: 1e6,
      logger: silentLogger(),
      gossip: { publish: async (env: TelemetryEnvelope) => scout.ingest(structuredClone(env)) } as never,
      localScout: (env) => local.ingest(env),
    });
    const random = seededRandom(7);
    let accepted = 0;
    for (let tick = 0; tick < 25; tick++) {
      const points = Array.from({ length: 40 }, (_, k) => ({
        metric: k % 2 === 0 ? 'o.delta' : 'o.load',
        value: Math.round(random() * 1_000) / 10,
        tags: { agent: 'a' },
        ts: clock.now(),
      }));
      accepted += emitter.accept(points);
      emitter.flush();
      await local.tick();
      clock.advance(100);
    }
    await emitter.stop();
    // Stopping: the origin closes what it holds now, before the windows' close time.
    await local.closeAll();
    const mine = rows(localOutbox);
    // The scout closes the same windows later, by its timer.
    clock.advance(3_000);
    await scout.tick();
    const theirs = rows(scoutOutbox);
    expect(mine.length).toBeGreaterThan(2);
    expect(mine).toEqual(theirs);
    const counted = mine.reduce((n, r) => n + (JSON.parse(r.body) as TelemetrySummary).count, 0);
    expect(counted).toBe(accepted);
  });
});
