// Acceptance, exact accounting with 2 scouts and scout failover (docs/telemetry.md): real sidecar
// processes (built CLI) on a loopback libp2p mesh and a real nats-server. Default: 3 sidecars,
// 2 scouts, ~5,000 points over ~2.5 s. NET_SYNC_FULL=1: 5 sidecars, 2 scouts, 50,000 points
// over 10 s.
import { describe, expect, it } from 'vitest';
import { rendezvousOwner } from '../../../src/core/scout-ownership.js';
import { meshIdentities } from '../../support/mesh-identities.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream } from '../../support/stream-contents.js';
import { assertExact, EMIT_TICK_MS, emitPoints, metric, readSummaries } from '../../support/telemetry-cluster.js';
import { waitFor } from '../../support/wait-for.js';

const FULL = process.env['NET_SYNC_FULL'] === '1';
const SIDECARS = FULL ? 5 : 3;
const SCOUTS = 2;
const POINTS = FULL ? 50_000 : 5_000;
const DURATION_MS = FULL ? 10_000 : 2_500;
const HEARTBEAT_MS = 1_000;
const decoder = new TextDecoder();

interface Cluster {
  natsUrl: string;
  sidecars: SidecarProcess[];
  peerIds: string[];
}

async function startCluster(n: number): Promise<Cluster> {
  const nats = await useNatsServer();
  const { dirs, peerIds, meshEnv } = await meshIdentities(n, 'telemetry');
  const sidecars = dirs.map(
    (dir, i) =>
      new SidecarProcess({
        natsUrl: nats.url,
        dir,
        env: {
          NET_SYNC_LOG_LEVEL: 'warn',
          ...meshEnv(i),
          NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
          NET_SYNC_TELEMETRY_SCOUT: String(i < SCOUTS),
          NET_SYNC_TELEMETRY_SUMMARISE: 'scouts',
          NET_SYNC_TELEMETRY_HEARTBEAT_MS: String(HEARTBEAT_MS),
          NET_SYNC_TELEMETRY_HEALTH_INTERVAL_MS: '1000',
          NET_SYNC_TELEMETRY_EXPECTED_SCOUTS: String(SCOUTS),
        },
      }),
  );
  for (const s of sidecars) registerCleanup(async () => void (await s.kill('SIGKILL')));
  await Promise.all(sidecars.map((s) => s.start()));
  // Connected to every peer, and grafted into the topic mesh (gossipsub keeps D of them, not all).
  for (const s of sidecars) {
    await waitFor(
      async () =>
        (await metric(s, 'net_sync_mesh_peers')) >= n - 1 &&
        (await metric(s, 'net_sync_mesh_topic_mesh_peers')) >= Math.min(n - 1, 2),
      `sidecar :${s.port} to connect to ${n - 1} peers`,
      30_000,
      50,
    );
  }
  for (const s of sidecars.slice(0, SCOUTS))
    await waitFor(
      async () => (await metric(s, 'net_sync_telemetry_live_scouts')) === SCOUTS,
      `scout :${s.port} to see ${SCOUTS} scouts`,
      10_000,
      50,
    );
  return { natsUrl: nats.url, sidecars, peerIds };
}

describe(`telemetry over ${SIDECARS} real sidecars, ${SCOUTS} scouts`, () => {
  it(`summarises ${POINTS} points exactly once, publishes peer health and lag, survives a scout SIGKILL`, async () => {
    const { natsUrl, sidecars, peerIds } = await startCluster(SIDECARS);

    // 1. Exact accounting: every sidecar's agent emits.
    const t1 = Date.now();
    const { accepted } = await emitPoints(sidecars, POINTS, DURATION_MS, 'acct');
    expect(accepted).toBe(POINTS);
    let got: Awaited<ReturnType<typeof readSummaries>> = { list: [], messages: [], ids: new Map() };
    await waitFor(
      async () => {
        got = await readSummaries(natsUrl, 'acct');
        return got.list.reduce((n, s) => n + s.count, 0) >= POINTS;
      },
      `summaries of ${POINTS} points in JetStream`,
      30_000,
      200,
    );
    assertExact(got.list, got.ids, POINTS);
    const publishers = new Set(got.list.map((s) => s.origin));
    expect(publishers.size).toBe(SIDECARS);
    console.log(
      `[telemetry] ${POINTS} points → ${got.list.length} summaries in ${Date.now() - t1} ms (emit ${DURATION_MS} ms)`,
    );

    // Peer health and pipeline lag, as telemetry rows.
    const health = await readStream(natsUrl, 'root.solar.telemetry.libp2p.peer.health');
    const lag = await readStream(natsUrl, 'root.solar.observability.pipeline.lag');
    expect(health.messages.length).toBeGreaterThan(0);
    expect(lag.messages.length).toBeGreaterThan(0);
    const h = JSON.parse(decoder.decode(health.messages.at(-1)!.data));
    expect(h).toMatchObject({ connections: SIDECARS - 1, scouts: { expected: SCOUTS } });
    expect(Object.keys(h.pingRttMs)).toHaveLength(SIDECARS - 1);
    expect(Object.keys(h.scores)).toHaveLength(SIDECARS - 1);
    expect(h.outbox.telemetry).toBeDefined();
    expect(JSON.parse(decoder.decode(lag.messages.at(-1)!.data))).toHaveProperty('oldestPendingIntentAgeMs');

    // 2. Failover: only non-scout agents emit; SIGKILL the scout that owns the most of them mid-stream.
    const origins = sidecars.slice(SCOUTS);
    const originIds = peerIds.slice(SCOUTS);
    const scoutIds = peerIds.slice(0, SCOUTS);
    const owned = scoutIds.map((s) => originIds.filter((o) => rendezvousOwner(o, scoutIds) === s).length);
    const victim = owned[0]! >= owned[1]! ? 0 : 1;
    const survivor = sidecars[1 - victim]!;
    let killedAt = 0;
    let detected: Promise<number> = Promise.resolve(Number.NaN);
    const failoverPoints = Math.min(POINTS, 3_000 * origins.length);
    const { accepted: accepted2 } = await emitPoints(origins, failoverPoints, DURATION_MS, 'fail', async (tick) => {
      if (tick === Math.floor(DURATION_MS / EMIT_TICK_MS / 2)) {
        killedAt = Date.now();
        await sidecars[victim]!.kill('SIGKILL');
        // Watched alongside the workload: when does the survivor stop counting the dead scout?
        detected = waitFor(
          async () => (await metric(survivor, 'net_sync_telemetry_live_scouts')) === 1,
          'survivor to drop the dead scout',
          10_000,
          20,
        ).then(() => Date.now() - killedAt);
      }
    });
    expect(accepted2).toBe(failoverPoints);
    const detectedMs = await detected;
    await waitFor(
      async () => {
        got = await readSummaries(natsUrl, 'fail');
        return got.list.reduce((n, s) => n + s.count, 0) >= failoverPoints;
      },
      `summaries of ${failoverPoints} points after failover`,
      30_000,
      200,
    );
    assertExact(got.list, got.ids, failoverPoints);
    const takenOver = await metric(survivor, 'net_sync_telemetry_summaries_total{outcome="taken-over"}');
    console.log(
      `[telemetry] failover: scout ${victim} owned ${owned[victim]} origins; ` +
        `dead scout dropped after ${detectedMs} ms; survivor took over ${takenOver} held windows`,
    );
    expect(detectedMs).toBeLessThanOrEqual(3 * HEARTBEAT_MS + 1_500);
  });
});
