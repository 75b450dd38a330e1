/**
 * `npm run bench:consensus`: the consensus path under a steady open-loop load, against seed
 * 001's budgets (libp2p < 100 ms, NATS < 500 ms). Five real sidecar processes on a loopback
 * mesh (quorum 3 of 5), one nats-server; intents are scheduled at a fixed rate over all five
 * APIs (no coordinated omission): accept = the 202 − the scheduled time, commit = the message
 * reaching a core subscriber on the subject − the scheduled time. Per rate (20, 50, 100, 200,
 * then up until commit p99 passes 500 ms): accept and commit p50/p99, lost, sidecar CPU per
 * intent per node. In the same run, the floors: raw gossipsub publish → receive among five
 * nodes at the same rates, and one sidecar with consensus off. Table and JSON
 * (bench/results/consensus-<time>.json). See docs/benchmarks.md.
 */
import { RAW_TOPIC as TOPIC, rawNodeAddr, startRawGossipNodes } from './raw-gossip-nodes.js';
import '../src/polyfills.js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Table from 'cli-table3';
import { connect } from 'nats';
import { type DemoSidecar, startDemoCluster, stopSidecars } from '../src/devkit/demo-cluster.js';
import { quantile } from './common.js';
import {
  type BenchTimes,
  type HopSummary,
  readProbes,
  type ResourceSummary,
  summariseHops,
  summariseResources,
} from './consensus-timeline.js';
import { machineFacts } from './report.js';

const SUBJECT = 'root.solar.command.bench.consensus';
const STEP_MS = Number(process.env['BENCH_CONSENSUS_STEP_MS'] ?? 10_000);
const DRAIN_MS = 10_000;
/** Offered rates; `BENCH_CONSENSUS_RATES=20,50` runs only those (then the failover step). */
const RATES = (process.env['BENCH_CONSENSUS_RATES'] ?? '20,50,100,200').split(',').map(Number);
const MAX_RATE = 800;
/**
 * `BENCH_CONSENSUS_PROFILE=<dir>`: sidecar 2 (which the failover step keeps alive) runs with
 * `--cpu-prof` into <dir>; its profile is written when it stops, and the bench prints when each
 * step ran relative to that sidecar's start, for `bench/cpu-profile-summary.ts --from/--to`.
 */
const PROFILE_DIR = process.env['BENCH_CONSENSUS_PROFILE'];
let profiledSince = 0;
/**
 * The per-intent timeline and the sidecars' stalls, GC and SQLite writes (bench/consensus-probe.ts,
 * loaded into each consensus sidecar with `--import`); `BENCH_CONSENSUS_PROBE=0` leaves it out.
 */
const PROBE = process.env['BENCH_CONSENSUS_PROBE'] !== '0';
const PROBE_MODULE = resolve(import.meta.dirname, 'consensus-probe.js');
let probeDir: string | undefined;
/** Wall clock with sub-ms precision, as the probes record it. */
const nowAbs = (): number => performance.timeOrigin + performance.now();
const BUDGET_MS = 500;
/** The failover step of the consensus run (committer SIGKILLed), once measured. */
let failover: StepResult | undefined;

interface StepResult {
  rate: number;
  sent: number;
  accepted: number;
  committed: number;
  lost: number;
  acceptP50: number;
  acceptP99: number;
  commitP50: number;
  commitP99: number;
  /** Sidecar CPU seconds per intent, per node (summed over nodes ÷ nodes ÷ intents), in ms. */
  cpuMsPerIntentPerNode: number;
  /** Gossip messages received per intent per node (`net_sync_gossip_messages_total{direction="in"}`). */
  gossipInPerIntentPerNode: number;
  /** Gossip messages published per intent per node (`direction="out"`). */
  gossipOutPerIntentPerNode: number;
  /** Promotions by a node other than the first-ranked committer, per intent (all nodes). */
  takeoversPerIntent: number;
  /** Gossip messages per intent per node by `direction kind` (JSON only). */
  gossipPerIntentPerNodeByKind: Record<string, number>;
  /** Per-hop p50/p99 of the intents' path, and the slowest 1%'s time per hop (with the probe). */
  timeline?: HopSummary[];
  /** The sidecars' event-loop stalls, GC pauses and SQLite write transactions during the step. */
  resources?: ResourceSummary;
}

interface GossipCounts {
  in: number;
  out: number;
  takeovers: number;
  /** Per `direction kind` (e.g. `in intent.endorse`). */
  byKind: Record<string, number>;
}

// Gossip messages a sidecar has received and sent so far (summed, and per kind), and its takeovers.
async function gossipCounts(s: DemoSidecar): Promise<GossipCounts> {
  const sum: GossipCounts = { in: 0, out: 0, takeovers: 0, byKind: {} };
  try {
    const text = await (await fetch(`http://${s.api}/metrics`)).text();
    for (const line of text.split('\n')) {
      const n = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.startsWith('net_sync_consensus_takeovers_total')) sum.takeovers += n;
      if (!line.startsWith('net_sync_gossip_messages_total{')) continue;
      if (line.includes('direction="in"')) sum.in += n;
      else if (line.includes('direction="out"')) sum.out += n;
      const label = /direction="(\w+)".*kind="([\w.]+)"|kind="([\w.]+)".*direction="(\w+)"/.exec(line);
      if (label !== null) {
        const key = label[1] !== undefined ? `${label[1]} ${label[2]}` : `${label[4]} ${label[3]}`;
        sum.byKind[key] = (sum.byKind[key] ?? 0) + n;
      }
    }
  } catch {
    // a stopped sidecar counts nothing
  }
  return sum;
}

// utime + stime of a process, in seconds (from /proc; the clock tick is 100 Hz on Linux).
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function waitMesh(sidecars: DemoSidecar[]): Promise<void> {
  const want = sidecars.length - 1;
  const deadline = Date.now() + 120_000; // a loaded machine forms the mesh slowly
  for (const s of sidecars) {
    for (;;) {
      const st = (await (await fetch(`http://${s.api}/v1/status`)).json()) as { peers?: { meshPeers?: number } };
      if ((st.peers?.meshPeers ?? 0) >= want) break;
      if (Date.now() > deadline) throw new Error(`${s.name}: mesh did not form`);
      await sleep(100);
    }
  }
}

/** One open-loop step at `rate` intents/s over `sidecars`; arrivals are read from `arrivals`. */
async function step(
  sidecars: DemoSidecar[],
  arrivals: Map<string, number>,
  rate: number,
  midway?: () => void,
  arrivalsAbs?: Map<string, number>,
): Promise<StepResult> {
  const n = Math.round((rate * STEP_MS) / 1000);
  const pids = sidecars.map((s) => s.child!.pid!);
  const cpu0 = pids.map(cpuSeconds);
  const g0 = await Promise.all(sidecars.map(gossipCounts));
  const stepFromS = (performance.now() - profiledSince) / 1000;
  const scheduled = new Map<string, number>();
  const accepts: number[] = [];
  let accepted = 0;
  const t0 = performance.now() + 50;
  const wall0 = Date.now() + 50;
  const times = new Map<string, BenchTimes>();
  const inflight: Array<Promise<void>> = [];
  for (let i = 0; i < n; i++) {
    if (i === Math.floor(n / 3)) midway?.();
    const at = t0 + (i * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 1) await sleep(wait);
    const s = sidecars[i % sidecars.length]!;
    const schedWall = wall0 + (i * 1000) / rate;
    inflight.push(
      fetch(`http://${s.api}/v1/intents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: SUBJECT, payload: { i, rate } }),
      })
        .then(async (res) => {
          const body = (await res.json()) as { correlationId?: string };
          if (res.status !== 202 || body.correlationId === undefined) return;
          accepted++;
          accepts.push(performance.now() - at);
          scheduled.set(body.correlationId, schedWall);
          times.set(body.correlationId, { scheduledAt: performance.timeOrigin + at, repliedAt: nowAbs() });
        })
        .catch(() => undefined),
    );
  }
  await Promise.all(inflight);
  const deadline = Date.now() + DRAIN_MS;
  const done = (): number => [...scheduled.keys()].filter((id) => arrivals.has(id)).length;
  while (done() < scheduled.size && Date.now() < deadline) await sleep(50);
  const cpu1 = pids.map(cpuSeconds);
  const g1 = await Promise.all(sidecars.map(gossipCounts));
  if (PROFILE_DIR !== undefined && sidecars.length > 1)
    console.error(
      `[profile] ${rate}/s step: --from ${stepFromS.toFixed(1)} --to ${((performance.now() - profiledSince) / 1000).toFixed(1)}`,
    );
  const gossipIn = g1.reduce((a, c, i) => a + c.in - g0[i]!.in, 0);
  const gossipOut = g1.reduce((a, c, i) => a + c.out - g0[i]!.out, 0);
  const takeovers = g1.reduce((a, c, i) => a + c.takeovers - g0[i]!.takeovers, 0);
  const byKind: Record<string, number> = {};
  for (const [i, c] of g1.entries())
    for (const [k, n] of Object.entries(c.byKind))
      byKind[k] = (byKind[k] ?? 0) + (n - (g0[i]!.byKind[k] ?? 0)) / Math.max(1, accepted) / sidecars.length;
  const commits = [...scheduled].filter(([id]) => arrivals.has(id)).map(([id, at]) => arrivals.get(id)! - at);
  const cpuTotal = cpu1.reduce((a, c, i) => a + c - cpu0[i]!, 0);
  let probed: Pick<StepResult, 'timeline' | 'resources'> = {};
  if (probeDir !== undefined && arrivalsAbs !== undefined) {
    await sleep(700); // the probes append every 500 ms
    const probes = readProbes(probeDir);
    for (const [id, t] of times) {
      const s = arrivalsAbs.get(id);
      if (s !== undefined) t.streamAt = s;
    }
    probed = {
      timeline: summariseHops(probes, times),
      resources: summariseResources(probes, performance.timeOrigin + t0, nowAbs()),
    };
  }
  return {
    ...probed,
    rate,
    sent: n,
    accepted,
    committed: commits.length,
    lost: accepted - commits.length,
    acceptP50: quantile(accepts, 0.5),
    acceptP99: quantile(accepts, 0.99),
    commitP50: quantile(commits, 0.5),
    commitP99: quantile(commits, 0.99),
    cpuMsPerIntentPerNode: (cpuTotal * 1000) / Math.max(1, accepted) / sidecars.length,
    gossipInPerIntentPerNode: gossipIn / Math.max(1, accepted) / sidecars.length,
    gossipOutPerIntentPerNode: gossipOut / Math.max(1, accepted) / sidecars.length,
    takeoversPerIntent: takeovers / Math.max(1, accepted),
    gossipPerIntentPerNodeByKind: byKind,
  };
}

/** The consensus path (5 sidecars, quorum 3) or one sidecar without consensus, at rising rates. */
async function runCluster(label: string, count: number, mesh: boolean, rates: number[]): Promise<StepResult[]> {
  const dir = mkdtempSync(join(tmpdir(), `net-sync-bench-${label}-`));
  const profile = mesh && PROFILE_DIR !== undefined;
  profiledSince = performance.now();
  probeDir = mesh && PROBE ? mkdtempSync(join(tmpdir(), 'net-sync-bench-probe-')) : undefined;
  const probeEnv: Record<string, string> = probeDir === undefined ? {} : { BENCH_PROBE_DIR: probeDir };
  const probeArgs = probeDir === undefined ? [] : ['--import', PROBE_MODULE];
  const { nats, sidecars } = await startDemoCluster(
    dir,
    count,
    mesh,
    () => probeEnv,
    (i) => [...probeArgs, ...(profile && i === 1 ? ['--cpu-prof', `--cpu-prof-dir=${resolve(PROFILE_DIR)}`] : [])],
  );
  const nc = await connect({ servers: nats.url });
  const arrivals = new Map<string, number>();
  const arrivalsAbs = new Map<string, number>();
  const sub = nc.subscribe(`${SUBJECT}`, {
    callback: (_err, m) => {
      const id = m.headers?.get('Net-Sync-Correlation-Id');
      if (id === undefined || id === '' || arrivals.has(id)) return;
      arrivals.set(id, Date.now());
      arrivalsAbs.set(id, nowAbs());
    },
  });
  const out: StepResult[] = [];
  try {
    if (mesh) await waitMesh(sidecars);
    // Warm-up: JIT, first grafts, the stream's first writes.
    await step(sidecars, arrivals, 10);
    for (const rate of rates) {
      const r = await step(sidecars, arrivals, rate, undefined, arrivalsAbs);
      out.push(r);
      console.error(
        `[${label}] ${rate}/s commit p99 ${r.commitP99.toFixed(0)} ms, lost ${r.lost}, CPU ${r.cpuMsPerIntentPerNode.toFixed(2)} ms/intent/node, takeovers ${r.takeoversPerIntent.toFixed(2)}/intent`,
      );
      if (r.commitP99 > BUDGET_MS && rate >= RATES[RATES.length - 1]!) break;
    }
    if (mesh) {
      // The overload steps leave a backlog: let it drain (no new commit for 3 s, at most 90 s) so
      // the failover step measures a takeover, not the queue.
      for (let seen = arrivals.size, quietSince = Date.now(), end = Date.now() + 90_000; Date.now() < end; ) {
        await sleep(250);
        if (arrivals.size !== seen) [seen, quietSince] = [arrivals.size, Date.now()];
        else if (Date.now() - quietSince > 3_000) break;
      }
      // Failover: at 20/s over sidecars 2-5, sidecar 1 (the committer of about a fifth of the
      // intents) is SIGKILLed a third of the way in; its ranks are taken over.
      const r = await step(sidecars.slice(1), arrivals, 20, () => sidecars[0]!.child?.kill('SIGKILL'), arrivalsAbs);
      failover = r;
      console.error(`[${label}] failover at 20/s: commit p99 ${r.commitP99.toFixed(0)} ms, lost ${r.lost}`);
    }
  } finally {
    sub.unsubscribe();
    await nc.close();
    await stopSidecars(sidecars);
    await nats.dispose();
    rmSync(dir, { recursive: true, force: true });
    if (probeDir !== undefined) rmSync(probeDir, { recursive: true, force: true });
    probeDir = undefined;
  }
  return out;
}

/** Raw gossipsub among `count` in-process nodes: publish → receive at every other node. */
async function rawGossip(
  count: number,
  rates: number[],
): Promise<Array<{ rate: number; p50: number; p99: number; cpuMsPerMessagePerNode: number }>> {
  const { nodes, ports } = await startRawGossipNodes(count);
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  try {
    for (const [i, node] of nodes.entries()) {
      node.services.pubsub.addEventListener('message', (e) => {
        const d = e.detail.data;
        const id = d[0]! | (d[1]! << 8) | (d[2]! << 16);
        const t = sentAt.get(id);
        if (t !== undefined && i >= 0) lat.push(performance.now() - t);
      });
    }
    for (let i = 0; i < count; i++)
      for (let j = i + 1; j < count; j++) await nodes[i]!.dial(rawNodeAddr(nodes, ports, j));
    for (let spins = 0; spins < 5_000; spins++) {
      if (nodes.every((n) => n.services.pubsub.getSubscribers(TOPIC).length >= count - 1)) break;
      await sleep(2);
    }
    await sleep(1_500); // grafts
    const out: Array<{ rate: number; p50: number; p99: number; cpuMsPerMessagePerNode: number }> = [];
    let id = 0;
    for (const rate of rates) {
      lat.length = 0;
      const cpu0 = process.cpuUsage();
      const n = Math.round((rate * Math.min(STEP_MS, 5_000)) / 1000);
      const t0 = performance.now();
      for (let k = 0; k < n; k++) {
        const at = t0 + (k * 1000) / rate;
        const wait = at - performance.now();
        if (wait > 1) await sleep(wait);
        const body = new Uint8Array(256).fill(0x61);
        const mine = id++;
        body[0] = mine & 0xff;
        body[1] = (mine >> 8) & 0xff;
        body[2] = (mine >> 16) & 0xff;
        sentAt.set(mine, at);
        void nodes[k % count]!.services.pubsub.publish(TOPIC, body).catch(() => undefined);
      }
      await sleep(500);
      const cpu = process.cpuUsage(cpu0);
      out.push({
        rate,
        p50: quantile(lat, 0.5),
        p99: quantile(lat, 0.99),
        // All nodes share this process: its CPU per message, split over the nodes.
        cpuMsPerMessagePerNode: (cpu.user + cpu.system) / 1000 / n / count,
      });
    }
    return out;
  } finally {
    for (const n of nodes) await n.stop();
  }
}

async function main(): Promise<void> {
  const rates = [...RATES];
  const consensus = await runCluster(
    'consensus',
    5,
    true,
    process.env['BENCH_CONSENSUS_RATES'] === undefined ? [...rates, 400, MAX_RATE] : rates,
  );
  const reached = consensus.map((r) => r.rate);
  // `BENCH_CONSENSUS_FLOORS=0` skips the floors (a quick CPU or profile run).
  const floors = process.env['BENCH_CONSENSUS_FLOORS'] !== '0';
  const single = floors ? await runCluster('single', 1, false, reached) : [];
  const gossip = floors ? await rawGossip(5, reached) : [];
  const table = new Table({
    head: [
      'rate/s',
      'accept p50/p99',
      'commit p50/p99',
      'lost',
      'CPU ms/intent/node',
      'gossip in / out per intent/node',
      'takeovers/intent',
      'consensus off commit p50/p99',
      'raw gossip p50/p99',
      'raw gossip CPU ms/msg/node',
    ],
  });
  const f = (a: number, b: number): string => `${a.toFixed(1)} / ${b.toFixed(1)}`;
  for (const r of consensus) {
    const s = single.find((x) => x.rate === r.rate);
    const g = gossip.find((x) => x.rate === r.rate);
    table.push([
      r.rate,
      f(r.acceptP50, r.acceptP99),
      f(r.commitP50, r.commitP99),
      r.lost,
      r.cpuMsPerIntentPerNode.toFixed(2),
      `${r.gossipInPerIntentPerNode.toFixed(2)} / ${r.gossipOutPerIntentPerNode.toFixed(2)}`,
      r.takeoversPerIntent.toFixed(2),
      s === undefined ? '' : f(s.commitP50, s.commitP99),
      g === undefined ? '' : f(g.p50, g.p99),
      g === undefined ? '' : g.cpuMsPerMessagePerNode.toFixed(3),
    ]);
  }
  console.log(table.toString());
  printTimelines(consensus);
  const at20 = consensus.find((r) => r.rate === 20);
  const g20 = gossip.find((r) => r.rate === 20);
  const sustained = consensus.filter((r) => r.commitP99 <= BUDGET_MS && r.lost === 0).map((r) => r.rate);
  const at100 = consensus.find((r) => r.rate === 100);
  const goals = {
    commitP99At20: { value: at20?.commitP99, goal: '<= 100 ms' },
    acceptP99At20: { value: at20?.acceptP99, goal: '<= 20 ms' },
    sustainedRate: { value: Math.max(0, ...sustained), goal: '>= 200/s with commit p99 <= 500 ms' },
    commitOverGossipP99At20: {
      value: at20 !== undefined && g20 !== undefined ? at20.commitP99 / g20.p99 : undefined,
      goal: '<= 3',
    },
    cpuMsPerIntentPerNodeAt100: { value: at100?.cpuMsPerIntentPerNode, goal: '<= 1 ms' },
    commitP99CommitterKilled: { value: failover?.commitP99, lost: failover?.lost, goal: '<= 1000 ms' },
  };
  console.log(JSON.stringify(goals, null, 2));
  const outDir = resolve(import.meta.dirname, '../../bench/results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `consensus-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ machine: machineFacts(), stepMs: STEP_MS, consensus, failover, single, gossip, goals }, null, 2)}\n`,
  );
  console.log(`wrote ${file}`);
}

// Per rate: where an intent's time went, hop by hop, and what the sidecars' event loops lost.
function printTimelines(steps: StepResult[]): void {
  for (const r of steps) {
    if (r.timeline === undefined || r.resources === undefined) continue;
    const t = new Table({ head: [`${r.rate}/s hop`, 'n', 'p50 ms', 'p99 ms', 'slowest 1% mean ms'] });
    for (const h of r.timeline) t.push([h.what, h.n, h.p50.toFixed(1), h.p99.toFixed(1), h.tailMean.toFixed(1)]);
    console.log(t.toString());
    const x = r.resources;
    console.log(
      `${r.rate}/s, 5 sidecars: ${x.stalls} loop stalls > 10 ms (p99 ${x.stallP99Ms.toFixed(0)}, max ${x.stallMaxMs.toFixed(0)}, ` +
        `total ${x.stallTotalMs.toFixed(0)} ms, of which in a SQLite write ${x.stallInTxMs.toFixed(0)}, in GC ${x.stallInGcMs.toFixed(0)}); ` +
        `GC ${x.gcPauses} pauses (max ${x.gcMaxMs.toFixed(1)}, total ${x.gcTotalMs.toFixed(0)} ms); ` +
        `SQLite writes ${x.txCount} (p50 ${x.txP50Ms.toFixed(2)}, p99 ${x.txP99Ms.toFixed(1)}, max ${x.txMaxMs.toFixed(0)}, ` +
        `total ${x.txTotalMs.toFixed(0)} ms; COMMIT p99 ${x.commitP99Ms.toFixed(1)} ms)`,
    );
  }
}

await main();
