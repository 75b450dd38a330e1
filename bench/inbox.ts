/**
 * Inbox benchmark (NATS → agent), separate from `bench/run.ts`: `npm run bench:inbox`. Real
 * nats-server and sidecar processes (the built CLI); the agent is a node:http server in this
 * process answering 204 at once.
 *
 * (i1) Throughput in push mode: N commands pre-loaded into COMMANDS, then a sidecar with the inbox
 *      on their subject (deliver all) against the raw baseline (a nats.js durable pull consumer in
 *      its own process, POST with fetch(), plain ack), same agent, same N, same maxAckPending;
 *      each at 1 and 64, repetitions interleaved. Goal: net-sync / raw ≥ 0.8.
 * (i2) Delivery latency at 100 commands/s, open loop, maxAckPending 1 (the default): agent
 *      receipt − scheduled publish time. Goal: p99 ≤ 50 ms.
 * (i3) Intent on sidecar 0 or 1 → agent of sidecar 2 (3-node mesh, quorum 2) at 20 intents/s,
 *      open loop. Goals: p99 ≤ 500 ms, lost = 0.
 *
 * Flags: `--quick` (small counts, smoke test), `--only i1,i2,i3`, `--out DIR` (default
 * bench/results), `--cpu-prof DIR` (V8 CPU profiles of the sidecars that run the inbox, written at exit).
 * Prints a table and writes JSON to `<out>/inbox-<time>.json`.
 */
import '../src/polyfills.js';
import Table from 'cli-table3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { medianSample, quantile, type Sample } from './common.js';
import { type DeliveryLatency, type InboxPath, measureLatency, measureThroughput } from './inbox-delivery.js';
import { type MeshLatency, measureMesh } from './inbox-mesh.js';
import { probeAppliedWrites, type StoreProbe } from './inbox-store-probe.js';
import type { OpenLoopFigures } from './open-loop.js';
import { machineFacts } from './report.js';

const PARTS = ['i1', 'i2', 'i3'] as const;
type Part = (typeof PARTS)[number];

/** Counts of one run; `--quick` shrinks them. */
interface InboxSizes {
  commands: number;
  maxAckPendings: number[];
  repeats: number;
  latencyRate: number;
  latencySeconds: number;
  latencyWarmupSeconds: number;
  meshRate: number;
  meshSeconds: number;
  meshWarmupSeconds: number;
}

const FULL: InboxSizes = {
  commands: 5_000,
  maxAckPendings: [1, 64],
  repeats: 3,
  latencyRate: 100,
  latencySeconds: 20,
  latencyWarmupSeconds: 5,
  meshRate: 20,
  meshSeconds: 20,
  meshWarmupSeconds: 5,
};

const QUICK: InboxSizes = {
  ...FULL,
  commands: 500,
  repeats: 1,
  latencySeconds: 3,
  latencyWarmupSeconds: 1,
  meshSeconds: 3,
  meshWarmupSeconds: 1,
};

/** record + markAcked pairs per store probe. */
const PROBE_WRITES = 300;

const GOALS = { ratio: 0.8, deliveryP99Ms: 50, meshP99Ms: 500 };

interface ThroughputRow {
  maxAckPending: number;
  netsync: { medianRate: number; samples: Sample[] };
  raw: { medianRate: number; samples: Sample[] };
  /** net-sync / raw of each repetition (interleaved), and their median: the figure against the goal. */
  ratios: number[];
  ratio: number;
  met: boolean;
}

interface InboxResults {
  startedAt: string;
  finishedAt?: string;
  argv: string[];
  sizes: InboxSizes;
  goals: typeof GOALS;
  machine: Record<string, unknown>;
  throughput?: ThroughputRow[];
  /** The inbox's SQLite writes per delivery on this disk, probed before and after (i1). */
  storeProbes?: StoreProbe[];
  latency?: DeliveryLatency[];
  mesh?: MeshLatency;
  notes: string[];
}

interface Args {
  sizes: InboxSizes;
  only: Set<Part>;
  out: string;
  cpuProfDir?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { sizes: FULL, only: new Set(PARTS), out: resolve(import.meta.dirname, '../../bench/results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.sizes = QUICK;
    else if (a === '--only' || a === '--out' || a === '--cpu-prof') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      if (a === '--out') args.out = v;
      else if (a === '--cpu-prof') args.cpuProfDir = resolve(v);
      else args.only = new Set(v.split(',').map((s) => toPart(s.trim())));
    } else throw new Error(`unknown argument ${a} (use --quick, --only i1,i2,i3, --out DIR, --cpu-prof DIR)`);
  }
  return args;
}

function toPart(s: string): Part {
  if (!(PARTS as readonly string[]).includes(s)) throw new Error(`--only: unknown part "${s}" (${PARTS.join(', ')})`);
  return s as Part;
}

function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function throughputRow(maxAckPending: number, samples: Record<InboxPath, Sample[]>): ThroughputRow {
  const ratios = samples['net-sync'].map((s, i) => s.rate / samples.raw[i]!.rate);
  const ratio = quantile(ratios, 0.5);
  const row = (s: Sample[]): { medianRate: number; samples: Sample[] } => ({
    medianRate: Math.round(medianSample(s).rate),
    samples: s,
  });
  return {
    maxAckPending,
    netsync: row(samples['net-sync']),
    raw: row(samples.raw),
    ratios,
    ratio,
    met: ratio >= GOALS.ratio,
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : 'n/a');
const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
const quarters = (l: OpenLoopFigures): string =>
  `p50 1st/last quarter ${ms(l.p50FirstQuarterMs)} / ${ms(l.p50LastQuarterMs)}`;
const split = (l: OpenLoopFigures): string =>
  `p50 ${ms(l.storedP50Ms)}, p99 ${ms(l.storedP99Ms)}; p50 ${ms(l.deliveredP50Ms)}, p99 ${ms(l.deliveredP99Ms)}`;

type Rows = InstanceType<typeof Table>;

function throughputRows(t: Rows, r: InboxResults): void {
  const samples = (s: Sample[]): string => s.map((x) => fmt(x.rate)).join(' / ');
  for (const row of r.throughput ?? []) {
    t.push([
      `(i1) push msg/s, maxAckPending ${row.maxAckPending}`,
      `${fmt(row.netsync.medianRate)} (${samples(row.netsync.samples)})`,
      `${fmt(row.raw.medianRate)} (${samples(row.raw.samples)})`,
      `ratio ${row.ratio.toFixed(2)} (${row.ratios.map((x) => x.toFixed(2)).join(' ')})`,
      `≥ ${GOALS.ratio}: ${verdict(row.met)}`,
    ]);
  }
  const probes = r.storeProbes ?? [];
  if (probes.length === 0) return;
  const each = probes.map(
    (p) => `${p.perDeliveryMs.toFixed(2)} ms (${p.recordMs.toFixed(2)} + ${p.markAckedMs.toFixed(2)})`,
  );
  t.push([
    '(i1) inbox SQLite writes per delivery',
    each.join(', '),
    '',
    'record + markAcked, before, after',
    'context',
  ]);
}

function latencyRows(t: Rows, r: InboxResults): void {
  const ns = r.latency?.find((l) => l.path === 'net-sync');
  const raw = r.latency?.find((l) => l.path === 'raw');
  if (ns === undefined || raw === undefined) return;
  const p = (l: DeliveryLatency): string => `p50 ${ms(l.p50Ms)}, p99 ${ms(l.p99Ms)}, max ${ms(l.maxMs)}`;
  t.push([
    `(i2) latency at ${ns.offeredRate}/s, send → agent`,
    p(ns),
    p(raw),
    `lost ${ns.lost} / ${raw.lost}`,
    `p99 ≤ ${GOALS.deliveryP99Ms} ms: ${verdict(ns.p99Ms <= GOALS.deliveryP99Ms && ns.lost === 0)}`,
  ]);
  t.push([
    '(i2) split: send → stored; stored → agent',
    split(ns),
    split(raw),
    `PubAck p99 ${ms(ns.sendP99Ms)} / ${ms(raw.sendP99Ms)}; ${quarters(ns)}`,
    'context',
  ]);
}

function meshRows(t: Rows, m: MeshLatency | undefined): void {
  if (m === undefined) return;
  const met = m.p99Ms <= GOALS.meshP99Ms && m.lost === 0 && m.refused === 0;
  t.push([
    `(i3) ${m.nodes} nodes, quorum ${m.quorum}, ${m.offeredRate}/s, POST → agent`,
    `p50 ${ms(m.p50Ms)}, p99 ${ms(m.p99Ms)}, max ${ms(m.maxMs)}`,
    '',
    `lost ${m.lost}, refused ${m.refused}, dup ${m.duplicates}`,
    `p99 ≤ ${GOALS.meshP99Ms} ms, lost 0: ${verdict(met)}`,
  ]);
  t.push([
    '(i3) split: POST → stored; stored → agent',
    split(m),
    '',
    `202 p99 ${ms(m.sendP99Ms)}; ${quarters(m)}`,
    'context',
  ]);
}

function renderTable(r: InboxResults): string {
  const t = new Table({
    head: ['measurement', 'net-sync', 'raw baseline', 'figure', 'goal'],
    style: { head: [], border: [] },
  });
  throughputRows(t, r);
  latencyRows(t, r);
  meshRows(t, r.mesh);
  const load = (k: string): string => ((r.machine[k] as number[] | undefined) ?? []).map((x) => x.toFixed(1)).join(' ');
  const counts = `${fmt(r.sizes.commands)} commands in (i1), ${r.latency?.[0]?.sent ?? 0} in (i2), ${r.mesh?.sent ?? 0} intents in (i3)`;
  return `${t.toString()}\n${counts}; load average ${load('loadavgAtStart')} at start, ${load('loadavgAtEnd')} at end`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { sizes } = args;
  if (args.cpuProfDir !== undefined) mkdirSync(args.cpuProfDir, { recursive: true });
  const results: InboxResults = {
    startedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
    sizes,
    goals: GOALS,
    machine: machineFacts(),
    notes: [
      'Consumers are processes of their own (the sidecar from the built CLI, the raw baseline from bench/inbox-raw-consumer.js); the agent runs in the benchmark process and answers 204 at once.',
      '(i1) is timed from the agent’s first receipt to its last (process start-up counts for neither); rateFromSpawn includes it. The ratio is the median of the per-repetition ratios.',
      'The raw baseline POSTs the stored message body as it is and acks with a plain ack() (no confirmation), and keeps no record; net-sync records each applied command in SQLite (synchronous=FULL), acks with a confirmed ackAck(), then marks the record acked.',
      'Latencies run from the scheduled send time (open loop), so a stall counts against us.',
    ],
  };
  const prof = args.cpuProfDir;
  if (args.only.has('i1')) {
    progress(`(i1) throughput, ${sizes.commands} commands, maxAckPending ${sizes.maxAckPendings.join(' and ')}`);
    const before = await probeAppliedWrites(PROBE_WRITES);
    const runs = await measureThroughput(sizes.commands, sizes.maxAckPendings, sizes.repeats, prof);
    results.throughput = runs.map((r) => throughputRow(r.maxAckPending, r.samples));
    results.storeProbes = [before, await probeAppliedWrites(PROBE_WRITES)];
  }
  if (args.only.has('i2')) {
    progress(`(i2) delivery latency at ${sizes.latencyRate}/s for ${sizes.latencySeconds} s`);
    results.latency = await measureLatency(sizes.latencyRate, sizes.latencySeconds, sizes.latencyWarmupSeconds, prof);
  }
  if (args.only.has('i3')) {
    progress(`(i3) mesh, ${sizes.meshRate} intents/s for ${sizes.meshSeconds} s`);
    results.mesh = await measureMesh(sizes.meshRate, sizes.meshSeconds, sizes.meshWarmupSeconds, prof);
  }
  results.finishedAt = new Date().toISOString();
  results.machine['loadavgAtEnd'] = loadavg();
  process.stdout.write(`${renderTable(results)}\n`);
  mkdirSync(args.out, { recursive: true });
  const file = join(args.out, `inbox-${results.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`results: ${file}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
