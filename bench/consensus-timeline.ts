/**
 * The per-intent timeline of `npm run bench:consensus`: joins the hops each sidecar's probe
 * recorded (bench/consensus-probe.ts) with the bench's own times (scheduled, 202 received,
 * message seen on the stream), and summarises one step: p50/p99 of each hop, what the slowest
 * 1% of commits spent in each, and the sidecars' event-loop stalls, GC pauses and SQLite write
 * transactions during the step.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { quantile } from './common.js';

/** The bench's own times of one intent, epoch ms (performance.timeOrigin + now). */
export interface BenchTimes {
  scheduledAt: number;
  repliedAt?: number;
  streamAt?: number;
}

interface Hop {
  pid: number;
  at: number;
}
type Rec =
  | { k: 'hop'; id: string; hop: string; at: number }
  | { k: 'stall'; at: number; ms: number }
  | { k: 'gc'; at: number; ms: number }
  | { k: 'tx'; at: number; ms: number; commitMs: number };

/** All records of every probe file in `dir`, by pid. */
export function readProbes(dir: string): Map<number, Rec[]> {
  const out = new Map<number, Rec[]>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)) {
    const m = /^probe-(\d+)\.jsonl$/.exec(f);
    if (m === null) continue;
    const recs: Rec[] = [];
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        recs.push(JSON.parse(line) as Rec);
      } catch {
        // a line cut by a kill
      }
    }
    out.set(Number(m[1]), recs);
  }
  return out;
}

/** The legs of an intent's path, in order; each from the previous point to this one. */
const LEGS = [
  ['http', 'scheduled → accept() entered (client, HTTP, the proposer’s loop)'],
  ['durable', '→ own row durable (group commit, fsync)'],
  ['proposalSent', 'durable → proposal handed to gossip (batch wait, publish)'],
  ['replied', 'durable → 202 handler done (waits ≤ 250 ms for the proposal to leave)'],
  ['client202', '→ 202 at the client'],
  ['toQuorum', 'proposal sent → quorum at the committer (gossip, endorsers’ fsync, endorse batch)'],
  ['settle', 'quorum → promotion queued (settle wait for late endorsements)'],
  ['promote', '→ promotion durable (signature checks, fsync)'],
  ['claim', '→ claimed by the committer (wake, claim fsync)'],
  ['publish', '→ published to JetStream'],
  ['puback', '→ PubAck handled by the committer'],
  ['stream', 'published → seen on the stream by the client'],
] as const;
type Leg = (typeof LEGS)[number][0];

export interface HopSummary {
  leg: Leg;
  what: string;
  n: number;
  p50: number;
  p99: number;
  /** Mean time in this leg of the slowest 1% of commits (by scheduled → stream). */
  tailMean: number;
}

export interface ResourceSummary {
  /** Over all sidecars: event-loop stalls > 10 ms. */
  stalls: number;
  stallP99Ms: number;
  stallMaxMs: number;
  stallTotalMs: number;
  /** Stall time overlapped by a SQLite write transaction, and by a GC pause. */
  stallInTxMs: number;
  stallInGcMs: number;
  gcPauses: number;
  gcMaxMs: number;
  gcTotalMs: number;
  txCount: number;
  txP50Ms: number;
  txP99Ms: number;
  txMaxMs: number;
  txTotalMs: number;
  commitP99Ms: number;
}

/** Per-leg summary of the intents in `bench` (by correlation ID). */
export function summariseHops(probes: Map<number, Rec[]>, bench: Map<string, BenchTimes>): HopSummary[] {
  const hops = new Map<string, Map<string, Hop[]>>();
  for (const [pid, recs] of probes)
    for (const r of recs) {
      if (r.k !== 'hop' || !bench.has(r.id)) continue;
      let byHop = hops.get(r.id);
      if (byHop === undefined) {
        byHop = new Map();
        hops.set(r.id, byHop);
      }
      const list = byHop.get(r.hop) ?? [];
      list.push({ pid, at: r.at });
      byHop.set(r.hop, list);
    }
  const legs = new Map<Leg, number[]>(LEGS.map(([l]) => [l, []]));
  const perIntent: Array<{ total: number; legs: Partial<Record<Leg, number>> }> = [];
  for (const [id, b] of bench) {
    const h = hops.get(id);
    if (h === undefined) continue;
    const first = (hop: string, pid?: number): number | undefined => {
      const xs = (h.get(hop) ?? []).filter((x) => pid === undefined || x.pid === pid);
      return xs.length === 0 ? undefined : Math.min(...xs.map((x) => x.at));
    };
    const accept = h.get('accept')?.[0];
    const proposer = accept?.pid;
    const committer = h.get('promoted')?.[0]?.pid;
    const sent = first('proposal-sent', proposer);
    const durable = first('durable', proposer);
    const points: Array<[Leg, number | undefined, number | undefined]> = [
      ['http', b.scheduledAt, accept?.at],
      ['durable', accept?.at, durable],
      ['proposalSent', durable, sent],
      ['replied', durable, first('replied', proposer)],
      ['client202', first('replied', proposer), b.repliedAt],
      ['toQuorum', sent ?? durable, first('quorum', committer)],
      ['settle', first('quorum', committer), first('promote-queued', committer)],
      ['promote', first('promote-queued', committer), first('promoted', committer)],
      ['claim', first('promoted', committer), first('claimed', committer)],
      ['publish', first('claimed', committer), first('publish', committer)],
      ['puback', first('publish', committer), first('puback', committer)],
      ['stream', first('publish', committer), b.streamAt],
    ];
    const mine: Partial<Record<Leg, number>> = {};
    for (const [leg, from, to] of points) {
      if (from === undefined || to === undefined) continue;
      legs.get(leg)!.push(to - from);
      mine[leg] = to - from;
    }
    if (b.streamAt !== undefined) perIntent.push({ total: b.streamAt - b.scheduledAt, legs: mine });
  }
  perIntent.sort((a, b) => b.total - a.total);
  const tail = perIntent.slice(0, Math.max(1, Math.ceil(perIntent.length / 100)));
  return LEGS.map(([leg, what]) => {
    const xs = legs.get(leg)!;
    const t = tail.map((i) => i.legs[leg]).filter((x): x is number => x !== undefined);
    return {
      leg,
      what,
      n: xs.length,
      p50: quantile(xs, 0.5),
      p99: quantile(xs, 0.99),
      tailMean: t.length === 0 ? Number.NaN : t.reduce((a, c) => a + c, 0) / t.length,
    };
  });
}

/** Stalls, GC and SQLite writes of every sidecar between `from` and `to` (epoch ms). */
export function summariseResources(probes: Map<number, Rec[]>, from: number, to: number): ResourceSummary {
  const stalls: number[] = [];
  const gcs: number[] = [];
  const txs: number[] = [];
  const commits: number[] = [];
  let inTx = 0;
  let inGc = 0;
  for (const recs of probes.values()) {
    const within = recs.filter((r) => r.k !== 'hop' && r.at >= from && r.at <= to) as Exclude<Rec, { k: 'hop' }>[];
    const txSpans = within.filter((r) => r.k === 'tx').map((r) => [r.at - r.ms, r.at] as const);
    const gcSpans = within.filter((r) => r.k === 'gc').map((r) => [r.at - r.ms, r.at] as const);
    for (const r of within) {
      if (r.k === 'stall') {
        stalls.push(r.ms);
        inTx += overlap([r.at - r.ms, r.at], txSpans);
        inGc += overlap([r.at - r.ms, r.at], gcSpans);
      } else if (r.k === 'gc') gcs.push(r.ms);
      else if (r.k === 'tx') {
        txs.push(r.ms);
        commits.push(r.commitMs);
      }
    }
  }
  const sum = (xs: number[]): number => xs.reduce((a, c) => a + c, 0);
  return {
    stalls: stalls.length,
    stallP99Ms: quantile(stalls, 0.99),
    stallMaxMs: Math.max(0, ...stalls),
    stallTotalMs: sum(stalls),
    stallInTxMs: inTx,
    stallInGcMs: inGc,
    gcPauses: gcs.length,
    gcMaxMs: Math.max(0, ...gcs),
    gcTotalMs: sum(gcs),
    txCount: txs.length,
    txP50Ms: quantile(txs, 0.5),
    txP99Ms: quantile(txs, 0.99),
    txMaxMs: Math.max(0, ...txs),
    txTotalMs: sum(txs),
    commitP99Ms: quantile(commits, 0.99),
  };
}

// Time of `span` covered by any of `spans` (which do not overlap one another: one thread).
function overlap(span: readonly [number, number], spans: ReadonlyArray<readonly [number, number]>): number {
  let t = 0;
  for (const [a, b] of spans) t += Math.max(0, Math.min(b, span[1]) - Math.max(a, span[0]));
  return t;
}
