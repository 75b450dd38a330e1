/**
 * Scenario J: a committer cut off mid-publish (issue 16's second high finding). Three sidecars,
 * each in its own network namespace (a separate host to the kernel), quorum 2; COMMANDS with a
 * 1 s duplicate window; nats-server in the root namespace on the bridge. While agents submit to
 * s2 and s3, s1, the first-ranked committer of about a third of the intents, loses its link to
 * everything (NATS and the mesh) for several seconds, more than once.
 *
 * What it catches: publishes s1 had sent when the link went down stay in its kernel's send
 * queue (and in nats.js' buffer), and used to reach the server after the heal, long after s2 or
 * s3 had taken the intents over and the window had passed: stored twice. The sidecars' publish
 * timeout is set below the window, as the start-up check asks (docs/exactly-once.md).
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { freePort } from '../../../src/devkit/nats-server-process.js';
import { waitFor } from '../../support/wait-for.js';
import type { SidecarProcess } from '../../support/sidecar-process.js';
import { keygen } from '../harness/keygen.js';
import { NetnsLab } from '../harness/netns.js';
import { assertClean, hold, streamsConfig, withRun, type ScenarioResult } from '../harness/scenario.js';

/** Sizes of one run. */
export interface ScenarioJParams {
  ratePerSec: number;
  /** How many times s1 is cut off. */
  cuts: number;
  /** How long each cut lasts (seeded within the range). */
  cutMs: [number, number];
  /** Load before the first cut and between cuts (seeded within the range). */
  gapMs: [number, number];
}

export const J_FULL: ScenarioJParams = { ratePerSec: 40, cuts: 4, cutMs: [6_000, 9_000], gapMs: [2_000, 4_000] };
export const J_FAST: ScenarioJParams = { ratePerSec: 40, cuts: 2, cutMs: [4_000, 5_000], gapMs: [1_500, 2_500] };

/** Runs scenario J once; asserts the oracle (nothing lost, nothing stored twice). */
export async function scenarioJ(seed: number, p: ScenarioJParams): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('J', 'committer-cut', seed, async (run) => {
    const faults = run.rng.fork('faults');
    const lab = NetnsLab.create(3);
    run.cleanup.push('network namespaces', () => lab.dispose());
    const nats = await run.nats({ host: lab.bridgeAddr });
    const names = ['s1', 's2', 's3'];
    const peerIds = await Promise.all(names.map((n) => keygen(join(run.dir, `${n}.key`))));
    const meshPorts = await Promise.all(names.map(() => freePort()));
    const meshAddr = (i: number): string => `/ip4/${lab.hosts[i]!.addr}/tcp/${meshPorts[i]}`;
    const cfg = run.configFile('streams.yaml', streamsConfig({ duplicateWindow: '1s' }));
    const sidecars: SidecarProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const peers = [0, 1, 2].filter((j) => j !== i).map((j) => `${meshAddr(j)}/p2p/${peerIds[j]}`);
      sidecars.push(
        await run.sidecar({
          name: names[i]!,
          host: lab.hosts[i]!.addr,
          wrap: lab.wrap(i),
          natsServers: [nats.url],
          configFile: cfg,
          env: {
            NET_SYNC_MESH_ENABLED: 'true',
            NET_SYNC_MESH_LISTEN: meshAddr(i),
            NET_SYNC_MESH_PEERS: peers.join(','),
            NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
            NET_SYNC_CONSENSUS_QUORUM: 'majority',
            // Below the 1 s window: a publish given up on is fenced before a second copy could pass it.
            NET_SYNC_NATS_PUBLISH_TIMEOUT_MS: '800',
          },
        }),
      );
    }
    for (const s of sidecars) await waitFor(() => s.ready(), `${s.name} ready`, 30_000, 100);
    await waitFor(
      async () => (await Promise.all(sidecars.map((s) => s.status()))).every((st) => (st?.mesh?.peers ?? 0) >= 2),
      'every node to see 2 mesh peers',
      30_000,
      200,
    );
    const schedule = Array.from({ length: p.cuts }, () => ({
      gapMs: faults.range(...p.gapMs),
      cutMs: faults.range(...p.cutMs),
    }));
    const loadMs = schedule.reduce((t, c) => t + c.gapMs + c.cutMs, 0) + p.gapMs[0];
    // Agents talk to s2 and s3 only: s1's API is behind the cut as well.
    const w = run.workload({
      target: (i) => sidecars[1 + (i % 2)]!.apiUrl,
      proposers: 4,
      ratePerSec: p.ratePerSec,
      durationMs: loadMs,
      maxAttempts: Math.ceil((p.ratePerSec * loadMs) / 1000),
    });
    const cuts: Array<{ atMs: number; ms: number }> = [];
    for (const c of schedule) {
      await hold(c.gapMs);
      const at = Date.now();
      lab.cut(0);
      await hold(c.cutMs);
      lab.heal(0);
      cuts.push({ atMs: at - run.startedAtMs, ms: Date.now() - at });
    }
    await w.done();
    const drainMs = Math.max(...(await Promise.all(sidecars.map((s) => run.drained(s, 90_000)))));
    run.extra['cuts'] = cuts;
    run.extra['s1Fences'] = (await fences(sidecars[0]!)) ?? 'unknown';
    result = await run.finish({ sidecars, natsUrls: [nats.url], workload: w, recoveryMs: null, drainMs });
    assertClean(result);
    expect(result.oracle.committed, 'nothing committed').toBeGreaterThan(0);
  });
  return result;
}

// net_sync_nats_fences_total summed over reasons, from the sidecar's /metrics.
async function fences(s: SidecarProcess): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${s.apiUrl}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
    let total = 0;
    for (const m of text.matchAll(/^net_sync_nats_fences_total\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
    return total;
  } catch {
    return undefined;
  }
}
