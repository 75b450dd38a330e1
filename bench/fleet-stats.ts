/**
 * The fleet benchmark's constants from its windows: per-intent costs as least-squares slopes over
 * the idle window and the load steps below saturation (a marginal between two rates swings
 * ±30 % on this machine with GC), idle costs per sidecar, and the per-N summary the table and
 * docs/fleet.md's model read.
 */
import type { RawGossipFigures } from './fleet-raw-gossip.js';
import type { StepResult, WindowSample } from './fleet-step.js';
import type { RawNatsFigures } from './fleet-stream.js';

/** y = intercept + slope × x over `points` windows. */
export interface Fit {
  slope: number;
  intercept: number;
  /** Coefficient of determination; NaN with two points or a flat y. */
  r2: number;
  points: number;
}

/** Ordinary least squares; undefined with fewer than two distinct x. */
export function leastSquares(xy: ReadonlyArray<readonly [number, number]>): Fit | undefined {
  const n = xy.length;
  if (n < 2) return undefined;
  const mx = xy.reduce((s, [x]) => s + x, 0) / n;
  const my = xy.reduce((s, [, y]) => s + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of xy) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
    syy += (y - my) ** 2;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  return {
    slope,
    intercept: my - slope * mx,
    r2: n > 2 && syy > 0 ? (sxy * sxy) / (sxx * syy) : Number.NaN,
    points: n,
  };
}

/** Everything measured for one fleet size. */
export interface FleetRun {
  size: number;
  mode: string;
  startSeconds: number;
  mesh: { formed: boolean; connectedMin: number; meshPeersMin: number; meshPeersMax: number };
  rawNats: RawNatsFigures;
  rawNatsUnderIdleFleet?: RawNatsFigures;
  /** N bare gossipsub nodes in one process, one message per node per second: the idle floor. */
  rawGossip?: RawGossipFigures;
  idle?: WindowSample;
  steps: StepResult[];
  rssBytes: number[];
  proposers: number[];
  error?: string;
}

/** The constants of one fleet size (docs/benchmarks.md, docs/fleet.md). */
export interface FleetSummary {
  size: number;
  /** Fleet CPU per committed intent, ms: slope of summed sidecar CPU against committed intents/s. */
  fleetCpuMsPerIntent?: number;
  fleetCpuFit?: Fit;
  /** Offered rates of the load steps in the fit (below saturation). */
  fitRates: number[];
  /** The same slope over proposers only and over the others, per node, ms. */
  cpuMsPerIntentPerProposer?: number;
  cpuMsPerIntentPerOther?: number;
  idleCpuMsPerSidecar?: { mean: number; min: number; max: number };
  /** Envelopes a node validates per committed intent (slope ÷ N) and per idle second. */
  gossipPerNodePerIntent?: number;
  idleGossipPerNodePerSecond?: number;
  /** Endorsement signatures verified fleet-wide per committed intent, over every load step (issue 21, step 4). */
  signatureChecksPerIntent?: number;
  rssMiB: { mean: number; max: number };
  lost: number;
  lostAtProposers: number;
  duplicates: number;
  /** Idle CPU per sidecar ÷ raw gossipsub CPU per node at the heartbeat rate. */
  idleOverRawGossip?: number;
  /** Commit p50 at the lowest rate ÷ raw `js.publish` p50 under the idle fleet. */
  commitP50OverRawNats?: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * A load step is below saturation when the fleet leaves 15 % of the machine and every intent a
 * proposer accepted was committed inside the window (so none of its CPU is still owed). Latency is
 * not a criterion: on a shared machine other processes' load delays commits without changing
 * the fleet's CPU per intent.
 */
export function belowSaturation(s: StepResult, cores: number): boolean {
  return s.fleetCpuPerSecond < 0.85 * cores && s.lostAtProposers === 0;
}

/** Slope over the idle window and the unsaturated steps of `y(window)` against committed/s. */
function slopeOf(run: FleetRun, windows: WindowSample[], y: (w: WindowSample) => number): Fit | undefined {
  if (run.idle === undefined) return undefined;
  return leastSquares([run.idle, ...windows].map((w) => [w.committedPerSecond, y(w)] as const));
}

/** The per-N constants of `run`. */
export function summarise(run: FleetRun, cores: number): FleetSummary {
  const fit = run.steps.filter((s) => belowSaturation(s, cores));
  const groupCpu = (want: boolean) => (w: WindowSample) =>
    mean(w.sidecarCpuMsPerSecond.filter((_, i) => run.proposers.includes(i) === want)) / 1000;
  const cpu = slopeOf(run, fit, (w) => w.fleetCpuPerSecond);
  const gossip = slopeOf(run, fit, (w) => w.gossipReceivedPerSecond);
  const others = run.size - run.proposers.length;
  const idle = run.idle?.sidecarCpuMsPerSecond;
  const raw = run.rawNatsUnderIdleFleet ?? run.rawNats;
  const first = run.steps[0];
  const committed = run.steps.reduce((a, s) => a + s.committed, 0);
  const checks = run.steps.reduce((a, s) => a + (s.gossip['verify:endorsement'] ?? 0), 0);
  return {
    size: run.size,
    ...(cpu === undefined ? {} : { fleetCpuMsPerIntent: cpu.slope * 1000, fleetCpuFit: cpu }),
    fitRates: fit.map((s) => s.offeredRate),
    ...optional('cpuMsPerIntentPerProposer', slopeOf(run, fit, groupCpu(true))?.slope),
    ...optional('cpuMsPerIntentPerOther', others > 0 ? slopeOf(run, fit, groupCpu(false))?.slope : undefined),
    ...(idle === undefined
      ? {}
      : { idleCpuMsPerSidecar: { mean: mean(idle), min: Math.min(...idle), max: Math.max(...idle) } }),
    ...(gossip === undefined ? {} : { gossipPerNodePerIntent: gossip.slope / run.size }),
    ...(run.idle === undefined ? {} : { idleGossipPerNodePerSecond: run.idle.gossipReceivedPerSecond / run.size }),
    ...optional('signatureChecksPerIntent', committed > 0 ? checks / committed : undefined),
    rssMiB: { mean: mean(run.rssBytes) / 1_048_576, max: Math.max(0, ...run.rssBytes) / 1_048_576 },
    lost: run.steps.reduce((a, s) => a + s.lost, 0),
    lostAtProposers: run.steps.reduce((a, s) => a + s.lostAtProposers, 0),
    duplicates: run.steps.reduce((a, s) => a + s.duplicates, 0),
    ...optional(
      'idleOverRawGossip',
      idle === undefined || run.rawGossip === undefined ? undefined : mean(idle) / run.rawGossip.cpuMsPerNodePerSecond,
    ),
    ...optional('commitP50OverRawNats', first === undefined ? undefined : first.commitP50Ms / raw.p50Ms),
  };
}

// A slope in s/s per intent/s is seconds per intent: in ms.
function optional(key: string, v: number | undefined): Record<string, number> {
  if (v === undefined || !Number.isFinite(v)) return {};
  return { [key]: key.startsWith('cpuMs') ? v * 1000 : v };
}
