// Acceptance, partition (docs/telemetry.md): 4 real sidecar processes, scouts on opposite sides of a
// real network partition. Every mesh link runs through its own TCP fault proxy (as in
// consensus-minority.test.ts): the lower-indexed sidecar dials the higher one through the proxy
// of that pair, and every sidecar announces an address nobody listens on, so no connection goes
// round the proxies. Every agent keeps emitting through the cut and the heal; then the stream
// must hold every (origin, window, metric) once, with exactly the points each agent had accepted
// in that window, and during the cut each side's scout must have published its side's origins.
import { describe, expect, it } from 'vitest';
import { useNatsServer } from '../../support/nats-fixture.js';
import { startProxiedMesh } from '../../support/proxied-mesh.js';
import type { SidecarProcess } from '../../support/sidecar-process.js';
import {
  assertExact,
  EMIT_TICK_MS,
  emitPoints,
  metric,
  readSummaries,
  summaryKey,
} from '../../support/telemetry-cluster.js';
import { waitFor } from '../../support/wait-for.js';

const N = 4;
const SIDES = [
  [0, 1],
  [2, 3],
] as const; // sidecar 0 and 2 are the scouts
const SCOUTS = [0, 2];
const HEARTBEAT_MS = 1_000;
const BEFORE_MS = 2_000; // emitting, connected
// Emitting, partitioned: past the 3-heartbeat liveness limit (the split shows ~3 s after the cut),
// then ~4 s of whole windows, so a late split still leaves one.
const CUT_MS = 7_000;
const AFTER_MS = 3_000; // emitting, healed
const POINTS_PER_S = 800;

const sideOf = (i: number): number => (SIDES[0].includes(i as 0 | 1) ? 0 : 1);

async function peerCount(s: SidecarProcess): Promise<number> {
  return (await s.get('/v1/status')).json.mesh.peers as number;
}

/** Resolves with the time `cond` first held, polled alongside the workload. */
function when(cond: () => Promise<boolean>, what: string, timeoutMs: number): Promise<number> {
  return waitFor(cond, what, timeoutMs, 20).then(() => Date.now());
}

describe('telemetry partition over 4 real sidecars, a scout on each side of a TCP partition', () => {
  it('each side publishes the origins it hears; healed, no (origin, window, metric) twice, counts exact', async () => {
    const nats = await useNatsServer();
    const { sidecars, links, peerIds } = await startProxiedMesh({
      natsUrl: nats.url,
      n: N,
      label: 'tlm-partition',
      seed: 4,
      env: (i, peerIds) => ({
        NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
        NET_SYNC_TELEMETRY_SCOUT: String(SCOUTS.includes(i)),
        NET_SYNC_TELEMETRY_SUMMARISE: 'scouts',
        NET_SYNC_TELEMETRY_HEARTBEAT_MS: String(HEARTBEAT_MS),
        NET_SYNC_TELEMETRY_EXPECTED_SCOUTS: String(SCOUTS.length),
        // Redial a cut peer every second at most (the floor), not up to 10 s: the sides rejoin while
        // the agents still emit, and the test does not wait out a grown backoff after the heal.
        NET_SYNC_MESH_REDIAL_MAX_MS: '1000',
      }),
    });
    for (const i of SCOUTS)
      await waitFor(
        async () => (await metric(sidecars[i]!, 'net_sync_telemetry_live_scouts')) === 2,
        `scout ${i} to see both scouts`,
        10_000,
        50,
      );

    const crossing = links.filter((l) => sideOf(l.from) !== sideOf(l.to));
    expect(crossing).toHaveLength(4);
    const cutTick = BEFORE_MS / EMIT_TICK_MS;
    const healTick = (BEFORE_MS + CUT_MS) / EMIT_TICK_MS;
    let cutAt = 0;
    let healAt = 0;
    let split: Promise<number[]> = Promise.resolve([]);
    let joined: Promise<number[]> = Promise.resolve([]);
    const started = Date.now();
    const emitted = await emitPoints(
      sidecars,
      (POINTS_PER_S * (BEFORE_MS + CUT_MS + AFTER_MS)) / 1_000,
      BEFORE_MS + CUT_MS + AFTER_MS,
      'part',
      async (tick) => {
        if (tick === cutTick) {
          await Promise.all(crossing.map((l) => l.proxy.cut()));
          cutAt = Date.now();
          // Watched alongside the workload: when each sidecar sees only its side, and each scout only itself.
          split = Promise.all([
            ...sidecars.map((s, i) =>
              when(async () => (await peerCount(s)) === 1, `sidecar ${i} to see only its side`, CUT_MS),
            ),
            ...SCOUTS.map((i) =>
              when(
                async () => (await metric(sidecars[i]!, 'net_sync_telemetry_live_scouts')) === 1,
                `scout ${i} to drop the other scout`,
                CUT_MS,
              ),
            ),
          ]);
        }
        if (tick === healTick) {
          await Promise.all(crossing.map((l) => l.proxy.heal()));
          healAt = Date.now();
          joined = Promise.all([
            ...sidecars.map((s, i) =>
              when(async () => (await peerCount(s)) === N - 1, `sidecar ${i} to reconnect after the heal`, 30_000),
            ),
            ...SCOUTS.map((i) =>
              when(
                async () => (await metric(sidecars[i]!, 'net_sync_telemetry_live_scouts')) === 2,
                `scout ${i} to see both scouts again`,
                30_000,
              ),
            ),
          ]);
        }
      },
    );
    const splitAt = Math.max(...(await split));
    const joinedAt = Math.max(...(await joined));

    // Every window closes 2 s after its end (lateness + slack); held ones are decided within the hold.
    let got = await readSummaries(nats.url, 'part');
    await waitFor(
      async () => {
        got = await readSummaries(nats.url, 'part');
        return got.list.reduce((n, s) => n + s.count, 0) >= emitted.accepted;
      },
      `summaries of ${emitted.accepted} points in JetStream`,
      20_000,
      250,
    ).catch(() => undefined);

    // Exact: per (origin, window, metric), the points that agent had accepted in that window.
    const counted = new Map<string, number>();
    for (const s of got.list) {
      const k = `${peerIds.indexOf(s.origin)}/${s.windowStart}/${s.metric}`;
      counted.set(k, (counted.get(k) ?? 0) + s.count);
    }
    const wrong = [...new Set([...emitted.byWindow.keys(), ...counted.keys()])]
      .filter((k) => (counted.get(k) ?? 0) !== (emitted.byWindow.get(k) ?? 0))
      .map(
        (k) =>
          `${k}: counted ${counted.get(k) ?? 0} of ${emitted.byWindow.get(k) ?? 0} ` +
          `(window at ${Number(k.split('/')[1]) - started} ms)`,
      );
    expect(
      wrong,
      `windows miscounted (cut at ${cutAt - started} ms, split by ${splitAt - started} ms, ` +
        `heal at ${healAt - started} ms, joined by ${joinedAt - started} ms)`,
    ).toEqual([]);
    // Nothing counted twice: one copy per Nats-Msg-Id, one summary per key, aligned windows, no
    // per-scout straggler IDs, and the total.
    assertExact(got.list, got.ids, emitted.accepted);

    // During the cut (windows wholly between the split and the heal), each side's scout published its side's origins.
    const publisher = new Map(got.messages.map((m, i) => [summaryKey(got.list[i]!), m.headers['Net-Sync-Scout']]));
    const during = got.list.filter((s) => s.windowStart >= splitAt && s.windowStart + 1_000 <= healAt);
    const perSide = [0, 1].map((side) => during.filter((s) => sideOf(peerIds.indexOf(s.origin)) === side));
    for (const [side, list] of perSide.entries()) {
      expect(list.length, `summaries of side ${side}'s origins during the cut`).toBeGreaterThan(0);
      for (const s of list)
        expect(publisher.get(summaryKey(s)), `publisher of ${summaryKey(s)}`).toBe(peerIds[SCOUTS[side]!]);
    }
    const outcomes = await Promise.all(
      SCOUTS.map(async (i) => {
        const o: Record<string, number> = {};
        for (const k of ['published', 'taken-over', 'backup', 'handed-off', 'incomplete'])
          o[k] = await metric(sidecars[i]!, `net_sync_telemetry_summaries_total{outcome="${k}"}`);
        return JSON.stringify(o);
      }),
    );
    console.log(
      `[telemetry-partition] ${emitted.accepted} points (per origin ${emitted.byOrigin.join('/')}) → ` +
        `${got.list.length} summaries, ${got.messages.length} stored, 0 keys twice; ` +
        `cut at ${cutAt - started} ms, sides split ${splitAt - cutAt} ms later, ` +
        `heal at ${healAt - started} ms, rejoined ${joinedAt - healAt} ms later; ` +
        `during the cut side 0 published ${perSide[0]!.length} summaries, side 1 ${perSide[1]!.length}; ` +
        `scout windows by outcome ${outcomes.join(' ')}`,
    );
  });
});
