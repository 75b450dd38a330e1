/**
 * The fleet benchmark's tables: one row per (N, rate) with latencies and the stream oracle, then
 * one row per N with the constants docs/fleet.md's model takes.
 */
import Table from 'cli-table3';
import { belowSaturation, type FleetRun, type FleetSummary } from './fleet-stats.js';

const f0 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(0));
const f1 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(1));
const f2 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(2));

/** Both tables as text. */
export function renderFleet(runs: readonly FleetRun[], summaries: readonly FleetSummary[], cores: number): string {
  const steps = new Table({
    head: [
      'N',
      'rate/s',
      'accept p50/p99 ms',
      'commit p50/p99 ms',
      'committed/accepted',
      'lost (at proposers)',
      'dup',
      'fleet CPU cores (in fit)',
      'raw NATS p50/p99 ms',
    ],
    style: { head: [], border: [] },
  });
  for (const r of runs) {
    const raw = r.rawNatsUnderIdleFleet ?? r.rawNats;
    if (r.error !== undefined)
      steps.push([r.size, 'failed', r.error.split('\n')[0]!.slice(0, 80), '', '', '', '', '', '']);
    for (const s of r.steps)
      steps.push([
        r.size,
        s.offeredRate,
        `${f1(s.acceptP50Ms)} / ${f1(s.acceptP99Ms)}`,
        `${f0(s.commitP50Ms)} / ${f0(s.commitP99Ms)}`,
        `${s.committed}/${s.accepted}`,
        `${s.lost} (${s.lostAtProposers})`,
        s.duplicates,
        `${f2(s.fleetCpuPerSecond)} (${belowSaturation(s, cores) ? 'yes' : 'no'})`,
        `${f1(raw.p50Ms)} / ${f1(raw.p99Ms)}`,
      ]);
  }
  const perN = new Table({
    head: [
      'N',
      'fleet CPU ms/intent (slope, r², rates)',
      'per proposer / other ms',
      'idle CPU ms/s per sidecar (min–max; raw gossip, ratio)',
      'RSS MiB mean/max',
      'gossip/node/intent',
      'idle gossip/node/s',
      'sig checks/intent',
      'commit p50 ÷ raw NATS p50',
      'mesh peers min–max',
    ],
    style: { head: [], border: [] },
  });
  for (const [i, s] of summaries.entries()) {
    const r = runs[i]!;
    const fit = s.fleetCpuFit;
    perN.push([
      s.size,
      `${f1(s.fleetCpuMsPerIntent)} (r² ${f2(fit?.r2)}, idle+${s.fitRates.join(',') || 'none'})`,
      `${f2(s.cpuMsPerIntentPerProposer)} / ${f2(s.cpuMsPerIntentPerOther)}`,
      s.idleCpuMsPerSidecar === undefined
        ? 'n/a'
        : `${f1(s.idleCpuMsPerSidecar.mean)} (${f1(s.idleCpuMsPerSidecar.min)}–${f1(s.idleCpuMsPerSidecar.max)}; ` +
          `${f1(r.rawGossip?.cpuMsPerNodePerSecond)}, ×${f1(s.idleOverRawGossip)})`,
      `${f0(s.rssMiB.mean)} / ${f0(s.rssMiB.max)}`,
      f2(s.gossipPerNodePerIntent),
      f2(s.idleGossipPerNodePerSecond),
      f2(s.signatureChecksPerIntent),
      f1(s.commitP50OverRawNats),
      `${r.mesh.meshPeersMin}–${r.mesh.meshPeersMax}${r.mesh.formed ? '' : ' (not formed)'}`,
    ]);
  }
  return `${steps.toString()}\n${perN.toString()}`;
}
