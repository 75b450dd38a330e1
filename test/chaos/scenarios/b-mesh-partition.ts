/**
 * Scenario B: NATS up, the libp2p mesh split. Five sidecars (full; three in the fast variant)
 * form a cohort with a majority quorum; every mesh link goes through its own fault proxy (one
 * per ordered pair, and each node announces only a refused address, so identify cannot teach a
 * bypass). The links between the minority ({s4, s5}; fast: {s3}) and the majority are cut while
 * agents submit to every sidecar. The COMMANDS stream's duplicate window is 6 s, shorter than
 * the partition, so the stream cannot hide a second publish of a keyed intent.
 * - The majority keeps committing; the minority must commit nothing it proposed during the
 *   partition until the heal; every stored message carries a quorum of cohort endorsers.
 * - Keyed intents: during the partition each is posted with one `Idempotency-Key` on a minority
 *   sidecar and on a majority sidecar; the majority commits it more than the window before the
 *   heal. After the heal each is stored exactly once, and both answers carry its ID.
 * - After the heal, both sides converge: every acknowledged intent is committed once.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { freePort } from '../../../src/devkit/nats-server-process.js';
import { waitFor } from '../../support/wait-for.js';
import type { FaultProxy } from '../harness/fault-proxy.js';
import { keygen } from '../harness/keygen.js';
import { judgeKeyed, readStream, type StreamEntry } from '../harness/oracle.js';
import {
  assertClean,
  hold,
  streamsConfig,
  withRun,
  type ScenarioResult,
  type ScenarioRun,
} from '../harness/scenario.js';
import type { Attempt, Workload } from '../harness/workload.js';
import { CLI, type SidecarProcess } from '../../support/sidecar-process.js';

/** Sizes of one run. */
export interface ScenarioBParams {
  /** Sidecars; the minority is the last `floor((n - 1) / 2)` of them. */
  sidecars: 3 | 5;
  loadMs: number;
  ratePerSec: number;
  partitionMs: [number, number];
  /** Keyed intents posted on both sides during the partition. */
  keyed: number;
}

export const B_FULL: ScenarioBParams = {
  sidecars: 5,
  loadMs: 30_000,
  ratePerSec: 30,
  partitionMs: [8_000, 12_000],
  keyed: 40,
};
export const B_FAST: ScenarioBParams = {
  sidecars: 3,
  loadMs: 12_000,
  ratePerSec: 20,
  partitionMs: [4_000, 5_000],
  keyed: 12,
};

/**
 * The stream's duplicate window. The shortest the sidecar supports with consensus: longer than
 * `nats.publishTimeoutMs` (5 s), or a takeover may store a command twice (the sidecar warns; at
 * 1 s the full variant did, 1.6 s apart). Keyed intents are stored longer than this before the
 * heal, so only the mesh, not the stream, can keep the minority's copy from a second publish.
 */
const DUPLICATE_WINDOW_MS = 6_000;
/** A keyed intent is committed by the majority at least this long before the heal. */
const KEYED_MARGIN_MS = DUPLICATE_WINDOW_MS + 1_000;

/**
 * Whether the build under test has consensus: the driver and the mesh wiring are in the
 * built CLI. Returns the reason when not, so that the skip says why.
 */
export function consensusUnavailable(): string | null {
  const dist = dirname(dirname(CLI));
  const needed = ['consensus/consensus-driver.js', 'service/mesh-wiring.js'].map((f) => join(dist, f));
  const missing = needed.filter((f) => !existsSync(f));
  return missing.length === 0
    ? null
    : `consensus not available in the build under test (missing ${missing.join(', ')})`;
}

/** Runs scenario B once; asserts the oracle, quorum on every message, no minority commit, keyed intents once. */
export async function scenarioB(seed: number, p: ScenarioBParams): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('B', 'majority-minority', seed, async (run) => {
    const faults = run.rng.fork('faults');
    const nats = await run.nats();
    const { sidecars, links, peerIds } = await startMesh(run, nats.url, p.sidecars);
    const n = sidecars.length;
    const minoritySize = Math.floor((n - 1) / 2);
    const inMinority = (i: number): boolean => i >= n - minoritySize;
    const minority = sidecars.filter((_, i) => inMinority(i));
    const majority = sidecars.filter((_, i) => !inMinority(i));
    const w = run.workload({
      target: (i) => sidecars[i % n]!.apiUrl,
      proposers: n,
      ratePerSec: p.ratePerSec,
      durationMs: p.loadMs,
      maxAttempts: Math.ceil((p.ratePerSec * p.loadMs) / 1000),
    });
    await hold(faults.range(0.15, 0.3) * p.loadMs);
    const crossing = links.filter((l) => inMinority(l.from) !== inMinority(l.to)).map((l) => l.proxy);
    const cutAt = Date.now();
    for (const l of crossing) await l.cut();
    const plannedHealAt = cutAt + faults.range(...p.partitionMs);
    const keyedAt = await postKeyed(w, minority, majority, p.keyed);
    await hold(Math.max(plannedHealAt, keyedAt + KEYED_MARGIN_MS) - Date.now());
    const healAt = Date.now();
    for (const l of crossing) await l.heal();
    await w.done();
    const drains = await Promise.all(sidecars.map((s) => run.drained(s, 90_000)));
    const drainMs = Math.max(...drains) + (await run.drainedTogether(sidecars, 90_000));
    // Read once, after the drain: `net-sync reconcile` must then publish nothing (it reports it).
    const entries = await readStream([nats.url], 'root.solar.command.>', run.startedAtMs - 60_000);
    const minorityUrls = new Set(minority.map((s) => s.apiUrl));
    const checks = minorityChecks(w, entries, minorityUrls, cutAt, healAt);
    const keyed = judgeKeyed(w.attempts, entries);
    const keyedLate = entries.filter((e) => keyedKeys(w).has(e.key ?? '') && e.timeMs > healAt - DUPLICATE_WINDOW_MS);
    const keyedUnsettled = await unsettledCopies(w, entries, minority);
    const cohort = new Set(peerIds);
    const quorum = Math.floor(n / 2) + 1;
    const withoutQuorum = entries.filter((e) => new Set(e.endorsers.filter((x) => cohort.has(x))).size < quorum);
    Object.assign(run.extra, {
      sidecars: n,
      partitionMs: healAt - cutAt,
      drainMsBySidecar: drains,
      minorityAcked: w.attempts.filter((a) => minorityUrls.has(a.target) && a.outcome === 'acked').length,
      minorityProposedDuringPartitionCommittedAfter: checks.inPartition.length,
      minorityCommittedDuringPartition: checks.duringPartition.length,
      committedWithoutQuorum: withoutQuorum.length,
      keyed,
    });
    result = await run.finish({
      sidecars,
      natsUrls: [nats.url],
      workload: w,
      recoveryMs: checks.recoveryMs,
      drainMs,
      entries,
    });
    assertClean(result);
    for (const r of result.reconcile)
      expect(r.published, `net-sync reconcile on ${r.sidecar} published after the drain`).toBe(0);
    expect(
      checks.duringPartition.map((e) => e.msgId),
      'minority intents committed during the partition',
    ).toEqual([]);
    expect(
      withoutQuorum.map((e) => `${e.msgId}: ${e.endorsers.join(',')}`),
      'messages without a quorum of cohort endorsers',
    ).toEqual([]);
    expect(keyed.problems, 'keyed intents posted on both sides of the partition').toEqual([]);
    expect(keyed.intents, 'keyed intents attempted').toBe(p.keyed);
    expect(keyed.storedOnce, 'keyed intents stored exactly once').toBe(p.keyed);
    expect(
      keyedLate.map((e) => `${e.msgId}@${e.seq}`),
      'keyed intents stored less than the duplicate window before the heal',
    ).toEqual([]);
    expect(keyedUnsettled, "minority copies of keyed intents not committed at the stream's sequence").toEqual([]);
  });
  return result;
}

interface MeshLink {
  from: number;
  to: number;
  proxy: FaultProxy;
}

/** `n` sidecars in a cohort with a majority quorum; node i reaches node j only through its own proxy. */
async function startMesh(
  run: ScenarioRun,
  natsUrl: string,
  n: number,
): Promise<{ sidecars: SidecarProcess[]; links: MeshLink[]; peerIds: string[] }> {
  const names = Array.from({ length: n }, (_, i) => `s${i + 1}`);
  const peerIds = await Promise.all(names.map((name) => keygen(join(run.dir, `${name}.key`))));
  const meshPorts = await Promise.all(names.map(() => freePort()));
  const links: MeshLink[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      if (i !== j)
        links.push({
          from: i,
          to: j,
          proxy: await run.proxy(`${names[i]}→${names[j]}`, { host: '127.0.0.1', port: meshPorts[j]! }),
        });
  const refused = await freePort();
  const cfg = run.configFile('streams.yaml', streamsConfig({ duplicateWindow: `${DUPLICATE_WINDOW_MS / 1000}s` }));
  const sidecars: SidecarProcess[] = [];
  for (let i = 0; i < n; i++) {
    const peers = links
      .filter((l) => l.from === i)
      .map((l) => `/ip4/127.0.0.1/tcp/${l.proxy.port}/p2p/${peerIds[l.to]}`);
    sidecars.push(
      await run.sidecar({
        name: names[i]!,
        natsServers: [natsUrl],
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
  // The mesh is formed once each node sees every other one.
  await waitFor(
    async () => (await Promise.all(sidecars.map((s) => s.status()))).every((st) => (st?.mesh?.peers ?? 0) >= n - 1),
    `every node to see ${n - 1} mesh peers`,
    30_000,
    200,
  );
  return { sidecars, links, peerIds };
}

/**
 * Posts `count` keyed intents at once, each on a minority and a majority sidecar (one after the
 * other, alternating which first), then waits until the majority sidecar that got each has it
 * committed. Returns when.
 */
async function postKeyed(
  w: Workload,
  minority: SidecarProcess[],
  majority: SidecarProcess[],
  count: number,
): Promise<number> {
  const pending = await Promise.all(
    Array.from({ length: count }, async (_, k) => {
      const m = minority[k % minority.length]!;
      const M = majority[k % majority.length]!;
      const targets = k % 2 === 0 ? [m, M] : [M, m];
      const attempts = await w.submitKeyed(
        'keyed',
        k,
        targets.map((s) => s.apiUrl),
      );
      return { on: M, id: attempts.find((a) => a.target === M.apiUrl)?.correlationId ?? null };
    }),
  );
  for (const { on, id } of pending) {
    if (id === null) continue; // not acknowledged: judgeKeyed reports it
    await waitFor(
      async () => (await intentView(on, id))?.state === 'committed',
      `keyed intent ${id} committed on ${on.name} during the partition`,
      30_000,
      100,
    );
  }
  return Date.now();
}

/** `GET /v1/intents/:id` on `s`, or undefined when it does not answer 200. */
async function intentView(s: SidecarProcess, id: string): Promise<{ state: string; streamSeq?: number } | undefined> {
  try {
    const res = await fetch(`${s.apiUrl}/v1/intents/${id}`, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? ((await res.json()) as { state: string; streamSeq?: number }) : undefined;
  } catch {
    return undefined;
  }
}

function keyedKeys(w: Workload): Set<string> {
  return new Set(w.attempts.filter((a) => a.idempotencyKey !== null).map((a) => a.key));
}

/** Keyed intents whose minority copy is not committed at the sequence the stream holds it (one line each). */
async function unsettledCopies(w: Workload, entries: StreamEntry[], minority: SidecarProcess[]): Promise<string[]> {
  const seqOf = new Map(entries.map((e) => [e.key, e.seq]));
  const out: string[] = [];
  for (const a of w.attempts) {
    const s = minority.find((x) => x.apiUrl === a.target);
    if (a.idempotencyKey === null || s === undefined || a.correlationId === null) continue;
    const view = await intentView(s, a.correlationId);
    if (view?.state !== 'committed' || view.streamSeq !== seqOf.get(a.key))
      out.push(
        `${a.correlationId} on ${s.name}: ${view?.state ?? 'no answer'} at ${view?.streamSeq}, ` +
          `stream ${seqOf.get(a.key)}`,
      );
  }
  return out;
}

/**
 * Unkeyed intents the minority accepted during the partition: those stored before the heal
 * (must be none), those stored after it, and heal → the last of them stored (convergence).
 */
function minorityChecks(
  w: Workload,
  entries: StreamEntry[],
  minorityUrls: ReadonlySet<string>,
  cutAt: number,
  healAt: number,
): { duringPartition: StreamEntry[]; inPartition: StreamEntry[]; recoveryMs: number | null } {
  // Keyed intents were also posted on the majority, which may commit them during the partition.
  const byKey = new Map(w.attempts.filter((a) => a.idempotencyKey === null).map((a) => [a.key, a]));
  const fromMinority = (e: StreamEntry): Attempt | undefined => {
    const a = e.key === null ? undefined : byKey.get(e.key);
    return a !== undefined && minorityUrls.has(a.target) && a.sentAtMs > cutAt ? a : undefined;
  };
  const duringPartition = entries.filter((e) => fromMinority(e) !== undefined && e.timeMs < healAt);
  const inPartition = entries.filter((e) => (fromMinority(e)?.sentAtMs ?? Number.POSITIVE_INFINITY) < healAt);
  const recoveryMs = inPartition.length === 0 ? null : Math.max(...inPartition.map((e) => e.timeMs)) - healAt;
  return { duringPartition, inPartition, recoveryMs };
}
