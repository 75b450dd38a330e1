/**
 * `npm run bench`: net-sync's throughput and latency as ratios to raw baselines, measured
 * side by side in one run. Flags: `--quick` (small counts, smoke test), `--only a,a2,c`
 * (rows: a, a2 (a′), b (also b″, the outbox alone), c, c2 (c′), c3 (c″, the HTTP batch form), c2raw (the raw node:http baseline of c′, always with c2), d, f (signed federation events), g (federation
 * receive, with its raw verification baseline), w (the two-thread probe), l (a leaf-node nats-server
 * sourced by a hub: ingest, arrival, hub outage), o (net-sync's own NATS outage),
 * latency, rss), `--out DIR` (default bench/results), `--scale F` (the full counts times F, e.g. 0.2 on a
 * loaded machine; repetitions unchanged).
 * Repetitions are interleaved (a, a′, … then again) so drifting load on a shared machine
 * hits every row alike.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureNatsJs, measurePipelined, measureSqlite } from './baselines.js';
import { FULL_SIZES, medianSample, QUICK_SIZES, withTempDir, type Sample, type Sizes } from './common.js';
import { measureLatency } from './latency.js';
import { measureFederation } from './federation.js';
import { measureFederationReceive } from './federation-receive.js';
import { measureLeaf, measureOurOutage, type LeafSample, type OutageFigures } from './leaf.js';
import { leafReport } from './leaf-report.js';
import { measureHttp, measureHttpBatch, measureLibrary, measureRawHttp, measureReplay } from './netsync.js';
import { measureOutboxFloor } from './outbox-floor.js';
import {
  addRow,
  computeRatios,
  machineFacts,
  renderTable,
  writeResults,
  type BenchResults,
  type RowKey,
} from './report.js';
import { measureRss } from './rss.js';
import { measureWorkerProbe } from './worker-probe.js';

const ALL = ['a', 'a2', 'b', 'c', 'c2', 'c3', 'c2raw', 'd', 'f', 'g', 'w', 'l', 'o', 'latency', 'rss'] as const;
type Part = (typeof ALL)[number];
const ALIASES: Record<string, Part> = {
  "a'": 'a2',
  'a′': 'a2',
  "c'": 'c2',
  'c′': 'c2',
  "c''": 'c3',
  'c″': 'c3',
  lat: 'latency',
  leaf: 'l',
  outage: 'o',
};

interface Args {
  quick: boolean;
  scale: number;
  only: Set<Part>;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
  const args: Args = { quick: false, scale: 1, only: new Set(ALL), out: join(root, 'bench/results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--scale') {
      const v = Number(argv[++i]);
      if (!(v > 0 && v <= 10)) throw new Error('--scale needs a number in (0, 10]');
      args.scale = v;
    } else if (a === '--only' || a === '--out') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      if (a === '--out') args.out = v;
      else args.only = new Set(v.split(',').map((s) => toPart(s.trim())));
    } else
      throw new Error(
        `unknown argument ${a} (use --quick, --scale F, --only a,a2,b,c,c2,c3,d,f,g,w,l,o,latency,rss, --out DIR)`,
      );
  }
  return args;
}

function toPart(s: string): Part {
  const p = ALIASES[s] ?? s;
  if (!(ALL as readonly string[]).includes(p)) throw new Error(`--only: unknown row "${s}" (one of ${ALL.join(', ')})`);
  return p as Part;
}

// Every count times `f` (at least 1,000), the repetitions and the latency run's length kept.
function scaled(sizes: Sizes, f: number): Sizes {
  if (f === 1) return sizes;
  const n = (x: number): number => Math.max(1_000, Math.round(x * f));
  return {
    ...sizes,
    warmup: n(sizes.warmup),
    natsJs: n(sizes.natsJs),
    pipelined: n(sizes.pipelined),
    sqliteBatched: n(sizes.sqliteBatched),
    sqlitePerRow: n(sizes.sqlitePerRow),
    netsync: n(sizes.netsync),
    http: n(sizes.http),
    replay: n(sizes.replay),
    rssIntents: n(sizes.rssIntents),
    leaf: n(sizes.leaf),
    outage: n(sizes.outage),
  };
}

function progress(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const sizes = args.quick ? QUICK_SIZES : scaled(FULL_SIZES, args.scale);
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
    sizes,
    machine: machineFacts(),
    rows: {},
    notes: [],
  };
  // The latency run is paced at half of (c), so it needs (c).
  const parts = new Set(args.only);
  if (parts.has('latency')) parts.add('c');
  // (c′) is read against its raw HTTP baseline, measured beside it.
  if (parts.has('c2')) parts.add('c2raw');
  const samples = new Map<RowKey, Sample[]>();
  const leafSamples: LeafSample[] = [];
  const ourOutages: OutageFigures[] = [];
  const push = (k: RowKey, s: Sample): void => {
    samples.set(k, [...(samples.get(k) ?? []), s]);
    progress(`${k}: ${Math.round(s.rate).toLocaleString('en-US')}/s (${s.count} in ${s.seconds.toFixed(2)} s)`);
  };
  for (let rep = 1; rep <= sizes.repeats; rep++) {
    progress(`repetition ${rep}/${sizes.repeats}`);
    if (parts.has('a')) push('a', await measureNatsJs(sizes));
    if (parts.has('a2')) push('a2', await measurePipelined(sizes));
    if (parts.has('b')) {
      const b = await withTempDir(async (dir) => measureSqlite(sizes, dir));
      push('b', b.batched);
      push('b1', b.perRow);
      push('b2', await withTempDir((dir) => measureOutboxFloor(sizes, dir)));
    }
    if (parts.has('c')) push('c', await measureLibrary(sizes));
    if (parts.has('c2')) push('c2', await measureHttp(sizes));
    if (parts.has('c2raw')) push('c2raw', await measureRawHttp(sizes));
    if (parts.has('c3')) push('c3', await measureHttpBatch(sizes));
    if (parts.has('d')) push('d', await measureReplay(sizes));
    if (parts.has('f')) push('f', await measureFederation(sizes));
    if (parts.has('g')) {
      const g = await measureFederationReceive(sizes, 64);
      push('g', g.g);
      push('gr', g.gr);
      push('g1', (await measureFederationReceive(sizes, 1)).g);
    }
    if (parts.has('w')) push('w', await measureWorkerProbe(sizes));
    if (parts.has('l')) {
      const l = await measureLeaf(sizes);
      leafSamples.push(l);
      push('l', l.ingest);
      push('la', l.arrival);
      progress(`leaf outage: first ${l.outage.firstAfterReturnMs} ms, last ${l.outage.lastAfterReturnMs} ms`);
    }
    if (parts.has('o')) {
      const o = await measureOurOutage(sizes);
      ourOutages.push(o);
      progress(
        `our outage: first ${o.firstAfterReturnMs} ms, last ${o.lastAfterReturnMs} ms; ${JSON.stringify(o.timeline)}`,
      );
    }
  }
  for (const [k, s] of samples) addRow(results, k, s);
  computeRatios(results);
  const leaf = leafReport(leafSamples, ourOutages);
  if (leaf !== undefined) results.leaf = leaf;
  const c = samples.get('c');
  if (parts.has('latency') && c !== undefined) {
    progress('latency at half of (c)');
    results.latency = await measureLatency(sizes, medianSample(c).rate / 2);
  }
  if (parts.has('rss')) {
    progress(`rss with ${sizes.rssIntents} intents buffered`);
    results.rss = await measureRss(sizes.rssIntents);
  }
  results.finishedAt = new Date().toISOString();
  results.machine['loadavgAtEnd'] = loadavg();
  results.notes.push(
    'Payloads are 256 bytes: the raw body for (a)/(a′)/(b), the agent JSON payload for (c)/(c′)/(d); net-sync publishes it inside its command body with the Net-Sync headers.',
    '(f) is (c) for federation events: the same payload and window, plus one Ed25519 signature (node:crypto) over the DSSE PAE per event, on the event loop.',
    '(c′) uses node:http with a keep-alive Agent, 64 requests in flight, the client on a worker thread of the bench process; (c″) the same client with a JSON array of 256 intents per request, 4 requests in flight (1,024 intents outstanding, as (c)); (c′ raw) the same client as (c′) against a bare node:http server that parses each body and answers 202 (no durability, no NATS). serverCpuUs: CPU µs per request of the main thread (the server); otherCpuUs: of every other thread (mostly the client).',
    '(d) is timed from the publisher being ready again after the restart; reconnectMs and rateFromServerUp show the outage tail.',
    "(g) times an acme sidecar from its first push until every pre-stored envelope (signed by two of org's keys, threshold 2) is verified, recorded, receipted (signed, committed) and pushed to a 204 agent; (g raw) decodes the same envelopes and verifies their signatures with node:crypto in-process, nothing else.",
    "(l) is a leaf-node nats-server (JetStream domain leaf) whose stream the hub (domain hub) sources; on 2.9.10 the leaf acks before fsync (sync_interval 2 min), a weaker promise than net-sync's outbox (synchronous=FULL), so the comparison favours the leaf. (l→hub) latency: stored at the hub minus stored at the leaf, by the servers' timestamps (one host clock).",
    'Outages: the server is SIGKILLed a quarter into sizes.outage messages, stays down outageSeconds, and is restarted on the same store; times run from its return (ready, client port open). net-sync runs with the default nats settings.',
    "(w) is a probe, not a net-sync path: the outbox on a worker thread and only the row building and net-sync's publisher (send) on the main thread, the upper bound of moving SQLite off the event loop.",
  );
  process.stdout.write(`${renderTable(results)}\n`);
  const file = writeResults(results, args.out);
  process.stdout.write(`results: ${file}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
