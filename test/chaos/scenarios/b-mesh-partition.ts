/**
 * Scenario B: NATS up, the libp2p mesh split. Three sidecars form a cohort with a majority
 * quorum (2 of 3); every mesh link goes through its own fault proxy (one per ordered pair, and
 * each node announces only a refused address, so identify cannot teach a bypass). The link set
 * between the minority {s3} and the majority {s1, s2} is cut while agents submit to all three.
 * - The majority keeps committing; the minority must commit nothing it proposed during the
 *   partition until the heal; every stored message carries a quorum of cohort endorsers.
 * - After the heal, both sides converge: every acknowledged intent is committed once.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { freePort } from '../../../src/nats/nats-server-process.js';
import { waitFor } from '../../support/wait-for.js';
import type { FaultProxy } from '../harness/fault-proxy.js';
import { keygen } from '../harness/keygen.js';
import { readStream } from '../harness/oracle.js';
import { assertClean, hold, streamsConfig, withRun, type ScenarioResult } from '../harness/scenario.js';
import { CLI, type SidecarProcess } from '../../support/sidecar-process.js';

/** Sizes of one run. */
export interface ScenarioBParams {
  loadMs: number;
  ratePerSec: number;
  partitionMs: [number, number];
}

export const B_FULL: ScenarioBParams = { loadMs: 30_000, ratePerSec: 30, partitionMs: [8_000, 12_000] };
export const B_FAST: ScenarioBParams = { loadMs: 12_000, ratePerSec: 20, partitionMs: [4_000, 5_000] };

/**
 * Whether the build under test has consensus: the driver and the mesh wiring are in the
 * built CLI. Returns the reason when not, so that the skip says why.
 */
export function consensusUnavailable(): string | null {
  const dist = dirname(dirname(CLI));
  const needed = ['bridge/consensus-driver.js', 'service/mesh-wiring.js'].map((f) => join(dist, f));
  const missing = needed.filter((f) => !existsSync(f));
  return missing.length === 0
    ? null
    : `consensus not available in the build under test (missing ${missing.join(', ')})`;
}

/** Runs scenario B once; asserts the oracle, quorum on every message and no minority commit. */
export async function scenarioB(seed: number, p: ScenarioBParams): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('B', 'majority-minority', seed, async (run) => {
    const faults = run.rng.fork('faults');
    const nats = await run.nats();
    const names = ['s1', 's2', 's3'];
    const peerIds = await Promise.all(names.map((n) => keygen(join(run.dir, `${n}.key`))));
    const meshPorts = await Promise.all(names.map(() => freePort()));
    // links[i][j]: how node i reaches node j.
    const links: FaultProxy[][] = names.map(() => []);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++)
        if (i !== j)
          links[i]![j] = await run.proxy(`${names[i]}→${names[j]}`, { host: '127.0.0.1', port: meshPorts[j]! });
    const refused = await freePort();
    const cfg = run.configFile('streams.yaml', streamsConfig());
    const sidecars: SidecarProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const peers = [0, 1, 2]
        .filter((j) => j !== i)
        .map((j) => `/ip4/127.0.0.1/tcp/${links[i]![j]!.port}/p2p/${peerIds[j]}`);
      sidecars.push(
        await run.sidecar({
          name: names[i]!,
          natsServers: [nats.url],
          configFile: cfg,
          env: {
            NET_SYNC_MESH_ENABLED: 'true',
            NET_SYNC_MESH_LISTEN: `/ip4/127.0.0.1/tcp/${meshPorts[i]}`,
            NET_SYNC_MESH_ANNOUNCE: `/ip4/127.0.0.1/tcp/${refused}`,
            NET_SYNC_MESH_PEERS: peers.join(','),
            NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
            NET_SYNC_CONSENSUS_QUORUM: 'majority',
          },
        }),
      );
    }
    for (const s of sidecars) await waitFor(() => s.ready(), `${s.name} ready`, 30_000, 100);
    // The mesh is formed once each node sees its two peers.
    await waitFor(
      async () => (await Promise.all(sidecars.map((s) => s.status()))).every((st) => (st?.mesh?.peers ?? 0) >= 2),
      'every node to see 2 mesh peers',
      30_000,
      200,
    );
    const w = run.workload({
      target: (i) => sidecars[i % 3]!.apiUrl,
      proposers: 3,
      ratePerSec: p.ratePerSec,
      durationMs: p.loadMs,
      maxAttempts: Math.ceil((p.ratePerSec * p.loadMs) / 1000),
    });
    await hold(faults.range(0.15, 0.3) * p.loadMs);
    const minorityLinks = [links[2]![0]!, links[2]![1]!, links[0]![2]!, links[1]![2]!];
    const cutAt = Date.now();
    for (const l of minorityLinks) await l.cut();
    await hold(faults.range(...p.partitionMs));
    const healAt = Date.now();
    for (const l of minorityLinks) await l.heal();
    await w.done();
    const drainMs = Math.max(...(await Promise.all(sidecars.map((s) => run.drained(s, 90_000)))));
    const minority = sidecars[2]!.apiUrl;
    // Read once, after the drain: `net-sync reconcile` must then publish nothing (it reports it).
    const entries = await readStream([nats.url], 'root.solar.command.>', run.startedAtMs - 60_000);
    const byKey = new Map(w.attempts.map((a) => [a.key, a]));
    const minorityDuringPartition = entries.filter((e) => {
      const a = e.key === null ? undefined : byKey.get(e.key);
      return a !== undefined && a.target === minority && a.sentAtMs > cutAt && e.timeMs < healAt;
    });
    const minorityInPartition = entries.filter((e) => {
      const a = e.key === null ? undefined : byKey.get(e.key);
      return a !== undefined && a.target === minority && a.sentAtMs > cutAt && a.sentAtMs < healAt;
    });
    // Convergence: heal → the last intent the minority accepted during the partition is stored.
    const recoveryMs =
      minorityInPartition.length === 0 ? null : Math.max(...minorityInPartition.map((e) => e.timeMs)) - healAt;
    const cohort = new Set(peerIds);
    const withoutQuorum = entries.filter((e) => new Set(e.endorsers.filter((x) => cohort.has(x))).size < 2);
    Object.assign(run.extra, {
      partitionMs: healAt - cutAt,
      minorityAcked: w.attempts.filter((a) => a.target === minority && a.outcome === 'acked').length,
      minorityProposedDuringPartitionCommittedAfter: minorityInPartition.length,
      minorityCommittedDuringPartition: minorityDuringPartition.length,
      committedWithoutQuorum: withoutQuorum.length,
    });
    result = await run.finish({ sidecars, natsUrls: [nats.url], workload: w, recoveryMs, drainMs, entries });
    assertClean(result);
    for (const r of result.reconcile)
      expect(r.published, `net-sync reconcile on ${r.sidecar} published after the drain`).toBe(0);
    expect(
      minorityDuringPartition.map((e) => e.msgId),
      'minority intents committed during the partition',
    ).toEqual([]);
    expect(
      withoutQuorum.map((e) => `${e.msgId}: ${e.endorsers.join(',')}`),
      'messages without a quorum of cohort endorsers',
    ).toEqual([]);
  });
  return result;
}
