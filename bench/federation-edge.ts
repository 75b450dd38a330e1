/**
 * Federation across two organisations (issue 20), separate from `bench/run.ts` because it runs
 * minutes: `npm run bench:federation`. Real nats-servers from examples/federation (ORG's hub,
 * acme's server, acme's leaf through a TCP proxy), one sidecar process per side with consensus
 * off, a stand-in agent in this process (bench/federation-link.ts).
 *
 * (h) Round trip at 50 events/s, open loop: accepted at ORG → receipt applied at ORG, against a
 *     raw NATS round trip over the same servers and subjects. Goal: p99 ≤ 200 ms; ratio stated.
 * (i) Catch-up: 2,000 events sent during a 10 s leaf cut, leaf back → every receipt applied,
 *     against the raw sourcing catch-up (2,000 raw events, leaf back → every raw ack back). Goal ≤ 2×.
 *
 * The raw baseline runs before the sidecars start and again after they stop (its messages
 * purged in between, so the sidecars never read them): two raw samples bracket ours.
 * Flags: `--quick`, `--only h,i`, `--out DIR` (default bench/results), `--max-ack-pending N`
 * (both sidecars' `inbox.maxAckPending`, default 64), `--cpu-prof DIR` (V8 profiles of both sidecars). Table to stdout, JSON to `<out>/federation-edge-<time>.json`.
 */
import '../src/polyfills.js';
import Table from 'cli-table3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { withTempDir } from './common.js';
import { type CatchUp, ourCatchUp, rawCatchUp } from './federation-catchup.js';
import { FederationLink } from './federation-link.js';
import { installRawAcker, ourRoundTrip, type RoundTrip, rawRoundTrip } from './federation-roundtrip.js';
import { machineFacts } from './report.js';

interface Sizes {
  rate: number;
  /** Ours again at this rate, after (h): the latency of one event when the sidecars keep up. */
  lowRate: number;
  seconds: number;
  warmupSeconds: number;
  catchUpEvents: number;
  cutMs: number;
}
const FULL: Sizes = { rate: 50, lowRate: 10, seconds: 20, warmupSeconds: 2, catchUpEvents: 2_000, cutMs: 10_000 };
const QUICK: Sizes = { rate: 50, lowRate: 10, seconds: 3, warmupSeconds: 1, catchUpEvents: 200, cutMs: 3_000 };
const GOALS = { roundTripP99Ms: 200, catchUpRatio: 2 };

interface Results {
  startedAt: string;
  finishedAt?: string;
  argv: string[];
  sizes: Sizes;
  goals: typeof GOALS;
  maxAckPending: number;
  machine: Record<string, unknown>;
  loadavg: Record<string, number[]>;
  roundTrip?: {
    raw: RoundTrip[];
    ours: RoundTrip;
    oursLowRate: RoundTrip;
    ratioP50: number;
    ratioP99: number;
    met: boolean;
  };
  catchUp?: {
    raw: CatchUp[];
    ours: CatchUp;
    ratio: number;
    /** The same, each timed from its first event stored at acme (NATS's source retry left out). */
    ratioAfterSourceResumed: number;
    met: boolean;
  };
  notes: string[];
}

interface Args {
  sizes: Sizes;
  only: Set<string>;
  out: string;
  maxAckPending: number;
  cpuProfDir?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    sizes: FULL,
    only: new Set(['h', 'i']),
    out: resolve(import.meta.dirname, '../../bench/results'),
    maxAckPending: 64,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.sizes = QUICK;
    else if (a === '--only' || a === '--out' || a === '--max-ack-pending' || a === '--cpu-prof') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      if (a === '--out') args.out = v;
      else if (a === '--cpu-prof') args.cpuProfDir = resolve(v);
      else if (a === '--max-ack-pending') {
        args.maxAckPending = Number(v);
        if (!Number.isInteger(args.maxAckPending) || args.maxAckPending < 1)
          throw new Error('--max-ack-pending needs an integer ≥ 1');
      } else {
        args.only = new Set(v.split(',').map((s) => s.trim()));
        for (const p of args.only) if (p !== 'h' && p !== 'i') throw new Error(`--only: unknown part "${p}" (h, i)`);
      }
    } else
      throw new Error(
        `unknown argument ${a} (use --quick, --only h,i, --out DIR, --max-ack-pending N, --cpu-prof DIR)`,
      );
  }
  return args;
}

const progress = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);
const ms = (n: number | undefined): string => (n !== undefined && Number.isFinite(n) ? `${n.toFixed(1)} ms` : 'n/a');
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { sizes } = args;
  const r: Results = {
    startedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
    sizes,
    goals: GOALS,
    maxAckPending: args.maxAckPending,
    machine: machineFacts(),
    loadavg: { start: loadavg() },
    notes: [],
  };
  await withTempDir(async (dir) => {
    const link = await FederationLink.start({
      dir,
      maxAckPending: args.maxAckPending,
      ...(args.cpuProfDir === undefined ? {} : { cpuProfDir: args.cpuProfDir }),
    });
    try {
      installRawAcker(link);
      const rawH: RoundTrip[] = [];
      const rawI: CatchUp[] = [];
      const raw = async (when: string): Promise<void> => {
        if (args.only.has('h')) {
          progress(`(h) raw round trip, ${when}`);
          await rawRoundTrip(link, sizes.rate, sizes.warmupSeconds, `warm-${when}`);
          rawH.push(await rawRoundTrip(link, sizes.rate, sizes.seconds, `h-${when}`));
        }
        if (args.only.has('i')) {
          progress(`(i) raw catch-up, ${when}`);
          rawI.push(await rawCatchUp(link, sizes.catchUpEvents, sizes.cutMs, `i-${when}`));
        }
        r.loadavg[`raw ${when}`] = loadavg();
      };
      await raw('before');
      await link.purge();
      progress('sidecars starting');
      await link.startSidecars();
      let ours: RoundTrip | undefined;
      let oursLow: RoundTrip | undefined;
      let oursI: CatchUp | undefined;
      if (args.only.has('h')) {
        progress('(h) net-sync round trip');
        await ourRoundTrip(link, sizes.rate, sizes.warmupSeconds);
        await link.waitIdle();
        ours = await ourRoundTrip(link, sizes.rate, sizes.seconds);
        r.loadavg['ours (h)'] = loadavg();
        await link.waitIdle();
        progress(`(h) net-sync round trip at ${sizes.lowRate}/s`);
        oursLow = await ourRoundTrip(link, sizes.lowRate, sizes.seconds);
        r.loadavg['ours (h) low rate'] = loadavg();
      }
      if (args.only.has('i')) {
        progress('(i) net-sync catch-up');
        await link.waitIdle();
        oursI = await ourCatchUp(link, sizes.catchUpEvents, sizes.cutMs);
        r.loadavg['ours (i)'] = loadavg();
      }
      await link.stopSidecars();
      await raw('after');
      if (ours !== undefined && oursLow !== undefined) {
        const p50 = ours.loop.p50Ms / mean(rawH.map((x) => x.loop.p50Ms));
        const p99 = ours.loop.p99Ms / mean(rawH.map((x) => x.loop.p99Ms));
        const met = ours.loop.p99Ms <= GOALS.roundTripP99Ms && ours.loop.lost === 0;
        r.roundTrip = { raw: rawH, ours, oursLowRate: oursLow, ratioP50: p50, ratioP99: p99, met };
      }
      if (oursI !== undefined) {
        const ratio = oursI.catchUpMs / mean(rawI.map((x) => x.catchUpMs));
        const valid = oursI.valid && rawI.every((x) => x.valid);
        const ratioAfterSourceResumed = oursI.afterSourceResumedMs / mean(rawI.map((x) => x.afterSourceResumedMs));
        r.catchUp = {
          raw: rawI,
          ours: oursI,
          ratio,
          ratioAfterSourceResumed,
          met: valid && ratio <= GOALS.catchUpRatio,
        };
      }
    } finally {
      await link.close();
    }
  });
  r.finishedAt = new Date().toISOString();
  r.loadavg['end'] = loadavg();
  r.notes.push(
    'One sidecar per side, consensus off; both with inbox.maxAckPending as stated (acme reads its events, ORG its receipts).',
    'Ratios are against the mean of the two raw samples (before the sidecars started, after they stopped).',
    "(h) applied = the first GET /v1/federation/events/:id answering acked, polled every 2 ms from the receipt's arrival in FEDERATION: up to ~3 ms late.",
    "(i) leaf back = the hub's /leafz shows the leaf again after the proxy healed; a run where /leafz showed it during the cut or an event reached acme before the heal is invalid.",
  );
  process.stdout.write(`${render(r)}\n`);
  mkdirSync(args.out, { recursive: true });
  const file = join(args.out, `federation-edge-${r.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  process.stdout.write(`results: ${file}\n`);
}

function render(r: Results): string {
  const t = new Table({ head: ['row', 'net-sync', 'raw (before / after)', 'ratio', 'goal'] });
  const h = r.roundTrip;
  if (h !== undefined) {
    const lat = (x: RoundTrip) => `p50 ${ms(x.loop.p50Ms)}, p99 ${ms(x.loop.p99Ms)}`;
    t.push([
      `(h) round trip at ${r.sizes.rate}/s, ${h.ours.loop.sent} events`,
      `${lat(h.ours)}, max ${ms(h.ours.loop.maxMs)}, lost ${h.ours.loop.lost}`,
      h.raw.map(lat).join(' / '),
      `p50 ${h.ratioP50.toFixed(1)}×, p99 ${h.ratioP99.toFixed(1)}×`,
      `p99 ≤ ${r.goals.roundTripP99Ms} ms: ${h.met ? 'met' : 'NOT met'}`,
    ]);
    const low = h.oursLowRate;
    t.push([
      `(h) ours at ${r.sizes.lowRate}/s, ${low.loop.sent} events`,
      `${lat(low)}, max ${ms(low.loop.maxMs)}, lost ${low.loop.lost}`,
      '',
      '',
      'context',
    ]);
    const refused = (x: RoundTrip) => `refused ${x.loop.refused} ${JSON.stringify(x.refusals)}`;
    t.push([
      '(h) sends refused; p50 first / last quarter',
      `${refused(h.ours)}; ${ms(h.ours.loop.p50FirstQuarterMs)} / ${ms(h.ours.loop.p50LastQuarterMs)}`,
      h.raw.map(refused).join(' / '),
      '',
      'context',
    ]);
    const ourHops = h.ours.hops.map((x) => `${x.hop}: ${ms(x.p50Ms)} / ${ms(x.p99Ms)}`).join('\n');
    const rawHops = h.raw[0]!.hops.map((x) => `${x.hop}: ${ms(x.p50Ms)} / ${ms(x.p99Ms)}`).join('\n');
    const lowHops = low.hops.map((x) => `${x.hop}: ${ms(x.p50Ms)} / ${ms(x.p99Ms)}`).join('\n');
    t.push([`(h) hops, p50 / p99`, ourHops, rawHops, '', 'where the time goes']);
    t.push([`(h) hops at ${r.sizes.lowRate}/s`, lowHops, '', '', 'where the time goes']);
  }
  const i = r.catchUp;
  if (i !== undefined) {
    const s = (x: CatchUp) => `${ms(x.catchUpMs)}${x.valid ? '' : ' (INVALID: crossed the cut)'}`;
    t.push([
      `(i) catch-up, ${i.ours.count} events, cut ${(i.ours.cutMs / 1000).toFixed(1)} s`,
      s(i.ours),
      i.raw.map(s).join(' / '),
      `${i.ratio.toFixed(1)}×`,
      `≤ ${r.goals.catchUpRatio}×: ${i.met ? 'met' : 'NOT met'}`,
    ]);
    t.push([
      '(i) from the first event at acme',
      ms(i.ours.afterSourceResumedMs),
      i.raw.map((x) => ms(x.afterSourceResumedMs)).join(' / '),
      `${i.ratioAfterSourceResumed.toFixed(1)}×`,
      'context',
    ]);
    const lasts = (x: CatchUp) =>
      [
        `leaf back after heal: ${ms(x.leafReturnMs)}`,
        `first at acme: ${ms(x.firstStoredAtAcmeMs)}`,
        `last at acme: ${ms(x.lastStoredAtAcmeMs)}`,
        ...(x.lastPushedMs === undefined ? [] : [`last pushed: ${ms(x.lastPushedMs)}`]),
        `last receipt at acme: ${ms(x.lastReceiptAtAcmeMs)}`,
        `last receipt at ORG: ${ms(x.lastReceiptAtOrgMs)}`,
        `sent during cut in: ${ms(x.sendMs)}`,
      ].join('\n');
    t.push(['(i) from the leaf back', lasts(i.ours), lasts(i.raw[0]!), '', 'where the time goes']);
  }
  const loads = Object.entries(r.loadavg)
    .map(([k, v]) => `${k} ${v.map((x) => x.toFixed(1)).join(' ')}`)
    .join('; ');
  return `${t.toString()}\nload (1/5/15 min): ${loads}\nmaxAckPending ${r.maxAckPending}`;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
