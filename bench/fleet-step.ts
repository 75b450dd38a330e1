/**
 * One measured window of the fleet benchmark, idle or under an open-loop load: the fleet's
 * summed CPU (/proc), the gossip envelopes every node handled (/metrics), and for a load step
 * the intents accepted, committed (stored in the stream), lost and duplicated, with latencies
 * from each intent's scheduled send time to the stream's timestamp (no coordinated omission).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { quantile } from './common.js';
import type { FleetCluster, FleetSidecar } from './fleet-cluster.js';
import { cpuSeconds, diffCounts, type GossipCounts, gossipCounts, received, sumCounts } from './fleet-probe.js';
import type { StreamWatch } from './fleet-stream.js';

/** A window's fleet-wide cost; the points of the CPU and gossip regressions. */
export interface WindowSample {
  /** 0 for the idle window. */
  offeredRate: number;
  seconds: number;
  /** Intents of this window stored in the stream, per second of the window. */
  committedPerSecond: number;
  /** Summed utime + stime of all sidecars per second of the window (1 = one core). */
  fleetCpuPerSecond: number;
  /** Each sidecar's CPU in ms per second of the window, in index order. */
  sidecarCpuMsPerSecond: number[];
  /** Envelopes validated by all nodes together (accepted + refused) per second. */
  gossipReceivedPerSecond: number;
  /** Summed counter deltas over the window, by `in:<kind>`, `out:<kind>`, `rejected:<reason>`. */
  gossip: GossipCounts;
}

/** A load step: the window plus what happened to its intents. */
export interface StepResult extends WindowSample {
  sent: number;
  accepted: number;
  committed: number;
  /** Accepted, not in the stream when the drain ended. */
  lost: number;
  /** Of `lost`, those accepted by a sidecar whose intents can commit (a cohort member in `cohort` mode). */
  lostAtProposers: number;
  /** Extra copies in the stream of this step's IDs. */
  duplicates: number;
  /** Each lost intent's state as its sidecar reports it (`proposed`, `expired`, … or `unknown`). */
  lostStates: Record<string, number>;
  acceptP50Ms: number;
  acceptP99Ms: number;
  commitP50Ms: number;
  commitP99Ms: number;
  commitMaxMs: number;
}

/** What a step needs: the fleet, the stream view, the subject and the APIs to spread the load over. */
export interface StepContext {
  cluster: FleetCluster;
  watch: StreamWatch;
  subject: string;
  targets: FleetSidecar[];
}

interface Snapshot {
  atMs: number;
  cpu: number[];
  gossip: GossipCounts[];
}

/** CPU and gossip counters of every sidecar now. */
export async function snapshot(cluster: FleetCluster): Promise<Snapshot> {
  const gossip = await Promise.all(cluster.sidecars.map((s) => gossipCounts(s.api)));
  return { atMs: performance.now(), cpu: cluster.pids().map(cpuSeconds), gossip };
}

/** The window between two snapshots, with `committed` intents stored in it. */
export function windowOf(a: Snapshot, b: Snapshot, offeredRate: number, committed: number): WindowSample {
  const seconds = (b.atMs - a.atMs) / 1000;
  const perSidecar = b.cpu.map((c, i) => ((c - a.cpu[i]!) * 1000) / seconds);
  const gossip = sumCounts(b.gossip.map((g, i) => diffCounts(a.gossip[i]!, g)));
  return {
    offeredRate,
    seconds,
    committedPerSecond: committed / seconds,
    fleetCpuPerSecond: perSidecar.reduce((x, y) => x + y, 0) / 1000,
    sidecarCpuMsPerSecond: perSidecar,
    gossipReceivedPerSecond: received(gossip) / seconds,
    gossip,
  };
}

/** An idle window of `ms`: no intents, only the mesh's own traffic. */
export async function idleWindow(cluster: FleetCluster, ms: number): Promise<WindowSample> {
  const a = await snapshot(cluster);
  await sleep(ms);
  return windowOf(a, await snapshot(cluster), 0, 0);
}

interface Sent {
  id: string;
  scheduledWallMs: number;
  sidecar: FleetSidecar;
}

// Sends `rate`/s for `stepMs` round-robin over the targets, each at its scheduled time.
async function sendOpenLoop(ctx: StepContext, rate: number, stepMs: number, accepts: number[]): Promise<Sent[]> {
  const n = Math.max(1, Math.round((rate * stepMs) / 1000));
  const sent: Sent[] = [];
  const inflight: Array<Promise<void>> = [];
  const t0 = performance.now() + 20;
  for (let i = 0; i < n; i++) {
    const at = t0 + (i * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 1) await sleep(wait);
    const s = ctx.targets[i % ctx.targets.length]!;
    const post = fetch(`http://${s.api}/v1/intents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject: ctx.subject, payload: { i, rate } }),
      signal: AbortSignal.timeout(30_000),
    });
    inflight.push(
      post
        .then(async (res) => {
          const body = (await res.json()) as { correlationId?: string };
          if (res.status !== 202 || body.correlationId === undefined) return;
          accepts.push(performance.now() - at);
          sent.push({ id: body.correlationId, scheduledWallMs: performance.timeOrigin + at, sidecar: s });
        })
        .catch(() => undefined),
    );
  }
  await Promise.all(inflight);
  return sent;
}

/**
 * One open-loop step at `rate` intents/s for `stepMs`, then a drain until every intent accepted
 * by a proposer is in the stream (at most `drainMs`). The window covers both: CPU spent after the
 * last send still belongs to the step's intents.
 */
export async function loadStep(ctx: StepContext, rate: number, stepMs: number, drainMs: number): Promise<StepResult> {
  const a = await snapshot(ctx.cluster);
  const accepts: number[] = [];
  const sent = await sendOpenLoop(ctx, rate, stepMs, accepts);
  const stored = ctx.watch.storedAt;
  const deadline = Date.now() + drainMs;
  const mustCommit = sent.filter((s) => s.sidecar.proposer);
  while (Date.now() < deadline && mustCommit.some((s) => !stored.has(s.id))) await sleep(50);
  const commits = sent.filter((s) => stored.has(s.id)).map((s) => stored.get(s.id)! - s.scheduledWallMs);
  const w = windowOf(a, await snapshot(ctx.cluster), rate, commits.length);
  const lostOnes = sent.filter((s) => !stored.has(s.id));
  return {
    ...w,
    sent: Math.max(1, Math.round((rate * stepMs) / 1000)),
    accepted: sent.length,
    committed: commits.length,
    lost: lostOnes.length,
    lostAtProposers: lostOnes.filter((s) => s.sidecar.proposer).length,
    duplicates: sent.reduce((d, s) => d + Math.max(0, (ctx.watch.copies.get(s.id) ?? 0) - 1), 0),
    lostStates: await statesOf(lostOnes),
    acceptP50Ms: quantile(accepts, 0.5),
    acceptP99Ms: quantile(accepts, 0.99),
    commitP50Ms: quantile(commits, 0.5),
    commitP99Ms: quantile(commits, 0.99),
    commitMaxMs: quantile(commits, 1),
  };
}

// The state each lost intent's own sidecar reports (at most 200 asked, 8 at a time).
async function statesOf(lost: Sent[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const queue = lost.slice(0, 200);
  const worker = async (): Promise<void> => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      let state = 'unknown';
      try {
        const res = await fetch(`http://${s.sidecar.api}/v1/intents/${s.id}`, { signal: AbortSignal.timeout(5_000) });
        state = res.ok ? String(((await res.json()) as { state?: unknown }).state) : `http-${res.status}`;
      } catch {
        // the sidecar did not answer
      }
      out[state] = (out[state] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  if (lost.length > 200) out['not-asked'] = lost.length - 200;
  return out;
}
