/**
 * The capacity model of docs/fleet.md: reads a `bench:fleet` JSON (the newest in bench/results
 * unless named) and projects its per-N constants to a fleet of `--hosts` at `--rate` intents/s.
 * The constants are recomputed from the JSON's raw windows (fleet-stats.ts) and each is fitted
 * linearly in N over the measured sizes (held constant with one size), then
 * per host: CPU = idle(H) + R × fleetCpuPerIntent(H) ÷ H, gossip = idleGossip(H) + R × perIntent(H).
 *
 *   node dist/bench/fleet-model.js [file.json] [--hosts 1000] [--rate 1000] [--bytes 600]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { type FleetRun, type FleetSummary, leastSquares, summarise } from './fleet-stats.js';
import { renderFleet } from './fleet-table.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    hosts: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '1000' },
    /** Mean bytes on the wire per gossip envelope a node receives (not measured by the bench). */
    bytes: { type: 'string', default: '600' },
  },
});

/** One constant as a line in N: value(N) = a + b × N. */
interface Line {
  a: number;
  b: number;
}

function fitLine(points: ReadonlyArray<readonly [number, number | undefined]>): Line | undefined {
  const xy = points.filter((p): p is readonly [number, number] => p[1] !== undefined && Number.isFinite(p[1]));
  if (xy.length === 0) return undefined;
  const fit = leastSquares(xy);
  if (fit === undefined) return { a: xy.reduce((s, p) => s + p[1], 0) / xy.length, b: 0 };
  // No per-host or per-intent cost shrinks as the fleet grows: a falling fit is noise, so the
  // constant is held at its value at the largest measured N.
  if (fit.slope < 0) return { a: fit.intercept + fit.slope * Math.max(...xy.map((p) => p[0])), b: 0 };
  return { a: fit.intercept, b: fit.slope };
}

const at = (l: Line | undefined, n: number): number => (l === undefined ? Number.NaN : l.a + l.b * n);

function newestResult(): string {
  const dir = resolve(import.meta.dirname, '../../bench/results');
  const files = readdirSync(dir)
    .filter((f) => f.startsWith('fleet-') && f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no fleet-*.json in ${dir}: run npm run bench:fleet first`);
  return join(dir, files[files.length - 1]!);
}

function main(): void {
  const file = positionals[0] ?? newestResult();
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    runs?: FleetRun[];
    cores?: number;
    summaries?: FleetSummary[];
    opts?: { mode?: string };
  };
  // The constants are recomputed from the raw windows, so a JSON of an older run reads the same way.
  const runs = doc.runs ?? [];
  const all = runs.length > 0 ? runs.map((r) => summarise(r, doc.cores ?? 2)) : (doc.summaries ?? []);
  if (runs.length > 0) console.log(renderFleet(runs, all, doc.cores ?? 2));
  const s = all.filter((x) => x.fleetCpuMsPerIntent !== undefined);
  if (s.length === 0) throw new Error(`${file}: no size with a fleet CPU slope`);
  const hosts = Number(args.hosts);
  const rate = Number(args.rate);
  const bytes = Number(args.bytes);
  const cpu = fitLine(s.map((x) => [x.size, x.fleetCpuMsPerIntent] as const));
  const idle = fitLine(s.map((x) => [x.size, x.idleCpuMsPerSidecar?.mean] as const));
  const msgs = fitLine(s.map((x) => [x.size, x.gossipPerNodePerIntent] as const));
  const idleMsgs = fitLine(s.map((x) => [x.size, x.idleGossipPerNodePerSecond] as const));
  const table = new Table({
    head: [
      'hosts',
      'fleet CPU ms/intent',
      'idle ms/s/host',
      `intents ms/s/host at ${rate}/s`,
      'host CPU % of a core',
      'msgs/s/host',
      'KB/s/host',
      'fleet rate at 1 core/host',
    ],
    style: { head: [], border: [] },
  });
  for (const n of [...s.map((x) => x.size), hosts]) {
    const c = at(cpu, n);
    const i = at(idle, n);
    const saturation = `${Math.max(0, ((1000 - i) * n) / c).toFixed(0)}/s`;
    if (n !== hosts) {
      table.push([`${n} (fit)`, c.toFixed(1), i.toFixed(1), '', '', '', '', saturation]);
      continue;
    }
    const work = (rate * c) / n;
    const m = at(idleMsgs, n) + rate * at(msgs, n);
    const row = [(((i + work) / 1000) * 100).toFixed(1), m.toFixed(0), ((m * bytes) / 1000).toFixed(0)];
    table.push([`${n} (projected)`, c.toFixed(1), i.toFixed(1), work.toFixed(1), ...row, saturation]);
  }
  if (new Set(s.map((x) => x.size)).size < 2)
    console.log(
      "one fleet size measured: every constant is held flat in N (a sharded fleet's shape, not a single topic's)",
    );
  console.log(`${file} (mode ${doc.opts?.mode ?? '?'}), at ${rate} intents/s fleet-wide, ${bytes} B per envelope`);
  const line = (name: string, l: Line | undefined): string =>
    `${name} = ${l?.a.toFixed(2) ?? 'n/a'} + ${l?.b.toFixed(3) ?? 'n/a'} × N`;
  console.log(
    [
      line('fleet CPU ms/intent', cpu),
      line('idle ms/s/host', idle),
      line('msgs/node/intent', msgs),
      line('idle msgs/node/s', idleMsgs),
    ].join('\n'),
  );
  console.log(table.toString());
}

main();
