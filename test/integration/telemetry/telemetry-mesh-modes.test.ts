// Telemetry on the configurations the defaults (docs/configuration.md) lead to, with real sidecar processes
// and a real nats-server: a lone sidecar on the default config (no mesh) summarises its own
// points; sidecars on a consensus mesh summarise their own points at the origin by default
// (`telemetry.summarise: origin`), with no telemetry gossip and no heartbeats, beside a scout
// that hears nothing of theirs; and with `telemetry.summarise: scouts`, sidecars given
// `mesh.peers` with quorum 1 (no `mesh.enabled`) join the mesh for telemetry while their intents
// still skip consensus (`pending-commit`, no endorsement round); without any scout on the mesh,
// the points an origin gossips are counted as unrouted.
import { describe, expect, it } from 'vitest';
import { meshIdentities } from '../../support/mesh-identities.js';
import { registerCleanup, useNatsServer } from '../../support/nats-fixture.js';
import { SidecarProcess } from '../../support/sidecar-process.js';
import { assertExact, emitPoints, metric, waitForSummaries } from '../../support/telemetry-cluster.js';
import { waitFor } from '../../support/wait-for.js';

describe('telemetry on the configurations the defaults lead to', () => {
  it('a lone sidecar on defaults summarises the points its agent posts', async () => {
    const nats = await useNatsServer();
    const solo = new SidecarProcess({ natsUrl: nats.url });
    registerCleanup(async () => void (await solo.kill('SIGKILL')));
    await solo.start();
    await waitFor(async () => (await solo.get('/readyz')).status === 200, 'readyz');
    const doc = (await solo.get('/v1/status')).json;
    expect(doc.peers.enabled).toBe(false);
    expect(doc.telemetry).toEqual({ summarise: 'origin', scout: false });

    const { accepted } = await emitPoints([solo], 600, 1_000, 'solo');
    expect(accepted).toBe(600);
    const got = await waitForSummaries(nats.url, 'solo', 600);
    assertExact(got.list, got.ids, 600);
    expect(await metric(solo, 'net_sync_telemetry_points_unrouted_total')).toBe(0);
  });

  it('consensus mesh: each sidecar summarises its own points exactly, gossips no telemetry or heartbeat', async () => {
    const nats = await useNatsServer();
    const { dirs, peerIds, meshEnv } = await meshIdentities(3, 'origin-mode');
    // Sidecar 0 is a scout as configured before telemetry.summarise (which it implies: scouts);
    // 1 and 2 are on defaults (origin). Only 1 and 2 get points.
    const sidecars = dirs.map(
      (dir, i) =>
        new SidecarProcess({
          natsUrl: nats.url,
          dir,
          env: {
            ...meshEnv(i),
            NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
            NET_SYNC_CONSENSUS_QUORUM: '2',
            ...(i === 0 ? { NET_SYNC_TELEMETRY_SCOUT: 'true', NET_SYNC_TELEMETRY_WARMUP_MS: '0' } : {}),
          },
        }),
    );
    for (const s of sidecars) registerCleanup(async () => void (await s.kill('SIGKILL')));
    await Promise.all(sidecars.map((s) => s.start()));
    for (const s of sidecars)
      await waitFor(
        async () => (await metric(s, 'net_sync_mesh_topic_mesh_peers')) >= 2,
        `:${s.port} grafted into the topic mesh`,
        30_000,
        50,
      );
    const [scout, ...origins] = sidecars as [SidecarProcess, SidecarProcess, SidecarProcess];
    expect((await scout.get('/v1/status')).json.telemetry).toEqual({ summarise: 'scouts', scout: true });
    for (const s of origins) expect((await s.get('/v1/status')).json.telemetry.summarise).toBe('origin');
    const { accepted, byOrigin } = await emitPoints(origins, 1_200, 1_500, 'origins');
    expect(accepted).toBe(1_200);
    const got = await waitForSummaries(nats.url, 'origins', 1_200);
    assertExact(got.list, got.ids, 1_200);
    // Each origin's summaries are its own, published by itself, with every point it accepted.
    for (const [k, s] of origins.entries()) {
      const own = got.list.filter((x) => x.origin === peerIds[k + 1]);
      expect(own.reduce((n, x) => n + x.count, 0)).toBe(byOrigin[k]);
      expect(await metric(s, 'net_sync_telemetry_points_ingested_total')).toBe(byOrigin[k]);
    }
    const out = (kind: string) => `net_sync_gossip_messages_total{direction="out",kind="${kind}"}`;
    const inn = (kind: string) => `net_sync_gossip_messages_total{direction="in",kind="${kind}"}`;
    for (const s of origins) {
      for (const kind of ['telemetry', 'heartbeat']) {
        expect(await metric(s, out(kind)), `:${s.port} ${kind} out`).toBe(0);
        expect(await metric(s, inn(kind)), `:${s.port} ${kind} in`).toBe(0);
      }
    }
    // The scout runs the scout protocol on the telemetry topic, which the origins never joined:
    // it hears none of their points, and none of its heartbeats reach them.
    expect(await metric(scout, 'net_sync_telemetry_points_ingested_total')).toBe(0);
    expect(await metric(scout, inn('telemetry'))).toBe(0);
    // Consensus is untouched: an intent still commits with the cohort's endorsements.
    const posted = await origins[0].post('/v1/intents', {
      subject: 'root.solar.command.sentiment.set',
      payload: { v: 1 },
    });
    expect(posted.status).toBe(202);
    await waitFor(
      async () => (await origins[0].get(`/v1/intents/${posted.json.correlationId}`)).json.state === 'committed',
      'intent committed',
    );
  });

  it('summarise: scouts, mesh.peers and quorum 1: telemetry gossiped to a scout; intents skip consensus', async () => {
    const nats = await useNatsServer();
    const { dirs, peerIds, meshEnv } = await meshIdentities(2, 'peers-only');
    const sidecars = dirs.map((dir, i) => {
      const { NET_SYNC_MESH_ENABLED: _enabled, ...mesh } = meshEnv(i);
      return new SidecarProcess({
        natsUrl: nats.url,
        dir,
        env: {
          ...mesh,
          NET_SYNC_TELEMETRY_SCOUT: String(i === 0),
          NET_SYNC_TELEMETRY_SUMMARISE: 'scouts',
          NET_SYNC_TELEMETRY_WARMUP_MS: '0',
        },
      });
    });
    for (const s of sidecars) registerCleanup(async () => void (await s.kill('SIGKILL')));
    await Promise.all(sidecars.map((s) => s.start()));
    const [scout, origin] = sidecars as [SidecarProcess, SidecarProcess];
    for (const s of sidecars)
      await waitFor(
        async () => (await metric(s, 'net_sync_mesh_topic_mesh_peers')) >= 1,
        `:${s.port} grafted into the topic mesh`,
        30_000,
        50,
      );
    // The origin's only peer is the scout: once it has heard a heartbeat it knows a live scout,
    // so no point is counted unrouted because the origin's first 3 heartbeats passed before it.
    await waitFor(
      async () => (await metric(origin, 'net_sync_gossip_messages_total{direction="in",kind="heartbeat"}')) > 0,
      "origin to hear the scout's heartbeat",
      10_000,
      50,
    );
    const status = (await origin.get('/v1/status')).json;
    expect(status.peers).toMatchObject({ enabled: true, connected: [peerIds[0]] });
    expect(status.mesh).toMatchObject({ consensus: false });

    const { accepted } = await emitPoints([origin], 400, 1_000, 'peers');
    expect(accepted).toBe(400);
    const got = await waitForSummaries(nats.url, 'peers', 400);
    assertExact(got.list, got.ids, 400);
    expect(new Set(got.list.map((s) => s.origin))).toEqual(new Set([peerIds[1]]));
    expect(await metric(scout, 'net_sync_telemetry_points_ingested_total')).toBeGreaterThanOrEqual(400);
    expect(await metric(origin, 'net_sync_telemetry_points_unrouted_total')).toBe(0);

    const posted = await origin.post('/v1/intents', { subject: 'root.solar.command.sentiment.set', payload: { v: 1 } });
    expect(posted.status).toBe(202);
    expect(posted.json.state).toBe('pending-commit');
    await waitFor(
      async () => (await origin.get(`/v1/intents/${posted.json.correlationId}`)).json.state === 'committed',
      'intent committed',
    );
  });

  it('summarise: scouts with no scout anywhere: gossiped points count as unrouted, not lost quietly', async () => {
    const nats = await useNatsServer();
    const { dirs, meshEnv } = await meshIdentities(2, 'no-scout');
    const sidecars = dirs.map((dir, i) => {
      const { NET_SYNC_MESH_ENABLED: _enabled, ...mesh } = meshEnv(i);
      // Heartbeats every 250 ms: a node concludes that no scout answers after 3 of them, not after 3 s.
      const env = { ...mesh, NET_SYNC_TELEMETRY_SUMMARISE: 'scouts', NET_SYNC_TELEMETRY_HEARTBEAT_MS: '250' };
      return new SidecarProcess({ natsUrl: nats.url, dir, env });
    });
    for (const s of sidecars) registerCleanup(async () => void (await s.kill('SIGKILL')));
    await Promise.all(sidecars.map((s) => s.start()));
    const origin = sidecars[1]!;
    await waitFor(
      async () => (await metric(origin, 'net_sync_mesh_topic_mesh_peers')) >= 1,
      'origin grafted into the topic mesh',
      30_000,
      50,
    );
    // Past the first 3 heartbeats a node knows no scout answers; each post then counts.
    const unrouted = (): Promise<number> => metric(origin, 'net_sync_telemetry_points_unrouted_total');
    const post = async (n: number): Promise<void> => {
      const r = await origin.post('/v1/telemetry', {
        points: Array.from({ length: n }, (_, i) => ({ metric: 'orphan.load', value: i })),
      });
      expect(r.json.accepted).toBe(n);
    };
    await waitFor(
      async () => {
        await post(1);
        return (await unrouted()) > 0;
      },
      'points counted as unrouted',
      15_000,
      250,
    );
    // Exactly once each: 7 more points add 7 (batches go out every 100 ms). The count to start
    // from is one that two reads 300 ms apart agree on, so a probe batch still queued is in it.
    let before = await unrouted();
    await waitFor(
      async () => {
        await new Promise((r) => setTimeout(r, 300)); // pacing: a queued batch goes out within this
        const now = await unrouted();
        const settled = now === before;
        before = now;
        return settled;
      },
      'unrouted count to settle',
      10_000,
      0,
    );
    await post(7);
    await waitFor(async () => (await unrouted()) >= before + 7, '7 more unrouted', 5_000, 50);
    await new Promise((r) => setTimeout(r, 300)); // pacing: a double count would land by now
    expect(await unrouted()).toBe(before + 7);
  });
});
