/**
 * The leaf-node comparison's figures beyond the rate rows: arrival latency at the hub, and the
 * outage timings of the leaf (hub killed) and of net-sync (NATS killed), medians over repetitions.
 */
import type { LeafSample, OutageFigures } from './leaf.js';

/** Goal: net-sync's first replayed commit within this long of NATS returning (issue 15). */
export const FIRST_COMMIT_GOAL_MS = 1_000;

/** What the JSON keeps of the leaf comparison. */
export interface LeafReport {
  arrivalP50Ms: number;
  arrivalP99Ms: number;
  leafOutage: OutageFigures;
  ourOutage?: OutageFigures;
  firstCommitGoalMs: number;
  firstCommitGoalMet?: boolean;
  /** Every repetition. */
  leafSamples: LeafSample[];
  ourSamples: OutageFigures[];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
}

// Median of each field over the repetitions.
function medianOutage(samples: readonly OutageFigures[]): OutageFigures {
  const m = (k: Exclude<keyof OutageFigures, 'readyAfterReturnMs' | 'cpuToFirstMs' | 'timeline'>): number =>
    median(samples.map((s) => s[k]));
  return {
    sent: m('sent'),
    backlogAtReturn: m('backlogAtReturn'),
    downMs: m('downMs'),
    firstAfterReturnMs: m('firstAfterReturnMs'),
    lastAfterReturnMs: m('lastAfterReturnMs'),
    ...(samples.every((s) => s.readyAfterReturnMs !== undefined)
      ? { readyAfterReturnMs: median(samples.map((s) => s.readyAfterReturnMs!)) }
      : {}),
    ...(samples.every((s) => s.cpuToFirstMs !== undefined)
      ? { cpuToFirstMs: median(samples.map((s) => s.cpuToFirstMs!)) }
      : {}),
  };
}

/** The report from the repetitions measured; undefined when neither part ran. */
export function leafReport(leaf: readonly LeafSample[], ours: readonly OutageFigures[]): LeafReport | undefined {
  if (leaf.length === 0 && ours.length === 0) return undefined;
  const ourOutage = ours.length === 0 ? undefined : medianOutage(ours);
  return {
    arrivalP50Ms: median(leaf.map((s) => s.arrivalP50Ms)),
    arrivalP99Ms: median(leaf.map((s) => s.arrivalP99Ms)),
    leafOutage: medianOutage(leaf.map((s) => s.outage)),
    ...(ourOutage === undefined
      ? {}
      : { ourOutage, firstCommitGoalMet: ourOutage.firstAfterReturnMs <= FIRST_COMMIT_GOAL_MS }),
    firstCommitGoalMs: FIRST_COMMIT_GOAL_MS,
    leafSamples: [...leaf],
    ourSamples: [...ours],
  };
}

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');

function outageLine(o: OutageFigures): string {
  return `first ${fmt(o.firstAfterReturnMs)} ms, last ${fmt(o.lastAfterReturnMs)} ms`;
}

/** Table rows: [measurement, figure, samples, notes]. */
export function leafTableRows(r: LeafReport): string[][] {
  const rows: string[][] = [];
  if (r.leafSamples.length > 0) {
    rows.push([
      '(l→hub) forwarding: stored at the leaf → stored at the hub',
      `p50 ${fmt(r.arrivalP50Ms)} ms`,
      `p99 ${fmt(r.arrivalP99Ms)} ms`,
      'the leaf acks before fsync (sync_interval 2 min)',
    ]);
    rows.push([
      'outage: hub SIGKILLed during ingest, from its return',
      outageLine(r.leafOutage),
      r.leafSamples.map((s) => `${fmt(s.outage.firstAfterReturnMs)}/${fmt(s.outage.lastAfterReturnMs)}`).join(' · '),
      `down ${fmt(r.leafOutage.downMs)} ms, backlog ${fmt(r.leafOutage.backlogAtReturn)}`,
    ]);
  }
  if (r.ourOutage !== undefined) {
    rows.push([
      'outage: net-sync, NATS SIGKILLed during load, from its return',
      outageLine(r.ourOutage),
      r.ourSamples.map((s) => `${fmt(s.firstAfterReturnMs)}/${fmt(s.lastAfterReturnMs)}`).join(' · '),
      `first ≤ ${fmt(r.firstCommitGoalMs)} ms: ${r.firstCommitGoalMet ? 'met' : 'NOT met'}; publisher open ${fmt(r.ourOutage.readyAfterReturnMs ?? Number.NaN)} ms, CPU to first ${fmt(r.ourOutage.cpuToFirstMs ?? Number.NaN)} ms; backlog ${fmt(r.ourOutage.backlogAtReturn)}`,
    ]);
  }
  return rows;
}
