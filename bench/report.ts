/**
 * The benchmark's output: machine facts, the results table with the ratios of docs/benchmarks.md against
 * their goals, and the JSON file with every raw sample.
 */
import Database from 'better-sqlite3';
import Table from 'cli-table3';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATS_SERVER_BINARY } from '../src/devkit/nats-server-process.js';
import { medianSample, type Sample, type Sizes } from './common.js';
import type { LatencyResult } from './latency.js';
import { leafTableRows, type LeafReport } from './leaf-report.js';
import type { RssReport } from './rss-child.js';

/** Row keys, in table order. */
export const ROWS = [
  'a',
  'a2',
  'b',
  'b1',
  'b2',
  'c',
  'c2',
  'c2raw',
  'c3',
  'd',
  'f',
  'g',
  'g1',
  'gr',
  'w',
  'l',
  'la',
] as const;
export type RowKey = (typeof ROWS)[number];

/** What each row measures. */
export const ROW_LABELS: Record<RowKey, string> = {
  a: '(a) nats.js js.publish, msgID, window 1024',
  a2: '(a′) pipelined core publish + inbox PubAcks, window 1024',
  b: '(b) better-sqlite3 insert, 1000/txn, FULL, WAL',
  b1: '(b) better-sqlite3 insert, 1 row/txn (context)',
  b2: '(b″) net-sync outbox alone: append claiming its rows + commit mark (context)',
  c: '(c) net-sync library accept → committed',
  c2: '(c′) net-sync HTTP POST → committed, 1 intent/request, 64 in flight',
  c3: '(c″) net-sync HTTP batch POST → committed, 256 intents/request, 4 in flight',
  c2raw: '(c′ raw) node:http alone: 202 (parse, no durability), (c′)’s client, 64 in flight',
  d: '(d) net-sync replay of backlog after outage',
  f: '(f) federation event: accept → DSSE-signed → committed',
  g: '(g) federation receive: verify 2 sigs, record, receipt, push (maxAckPending 64)',
  g1: '(g) the same at maxAckPending 1, the default (context)',
  gr: '(g raw) node:crypto: decode + verify 2 sigs per envelope, in-process',
  w: '(w) probe: outbox on a worker thread + pipelined publish (context)',
  l: '(l) leaf node: js.publish to the leaf (own JetStream domain), window 1024',
  la: '(l→hub) the same messages stored at the hub stream that sources the leaf',
};

/** The goals (docs/benchmarks.md): numerator / denominator ≥ min. */
export const GOALS: ReadonlyArray<{ name: string; num: RowKey; den: RowKey; min: number | null }> = [
  { name: '(c)/(a)', num: 'c', den: 'a', min: 1.0 },
  { name: '(c)/(a′)', num: 'c', den: 'a2', min: 0.5 },
  { name: '(d)/(a)', num: 'd', den: 'a', min: 0.8 },
  { name: '(f)/(c)', num: 'f', den: 'c', min: 0.5 },
  { name: '(g)/(g raw)', num: 'g', den: 'gr', min: 0.5 },
  { name: '(g at 1)/(g raw)', num: 'g1', den: 'gr', min: null },
  { name: '(c′)/(c)', num: 'c2', den: 'c', min: 0.5 },
  { name: '(c″)/(c)', num: 'c3', den: 'c', min: 0.9 },
  { name: '(c′)/(c′ raw)', num: 'c2', den: 'c2raw', min: null },
  { name: '(c′ raw)/(c)', num: 'c2raw', den: 'c', min: null },
  { name: '(c′)/(a)', num: 'c2', den: 'a', min: null },
  { name: '(b″)/(a)', num: 'b2', den: 'a', min: null },
  { name: '(c)/(b″)', num: 'c', den: 'b2', min: null },
  { name: '(w)/(a)', num: 'w', den: 'a', min: null },
  { name: '(c′)/(l)', num: 'c2', den: 'l', min: 0.5 },
  { name: '(c″)/(l)', num: 'c3', den: 'l', min: 1.0 },
  { name: '(c)/(l)', num: 'c', den: 'l', min: null },
  { name: '(l)/(a)', num: 'l', den: 'a', min: null },
];

/** Everything one run produced. */
export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  argv: string[];
  sizes: Sizes;
  machine: Record<string, unknown>;
  rows: Partial<Record<RowKey, { label: string; medianRate: number; samples: Sample[] }>>;
  ratios?: Record<string, { value: number; goal: number | null; met: boolean | null }>;
  latency?: LatencyResult;
  rss?: RssReport;
  /** The leaf-node comparison beyond its rate rows (bench/leaf.ts). */
  leaf?: LeafReport;
  notes: string[];
}

/** Facts about the machine and the versions in play. */
export function machineFacts(): Record<string, unknown> {
  const nats = spawnSync(NATS_SERVER_BINARY, ['--version'], { encoding: 'utf8' });
  const pkg = (name: string): string => {
    try {
      return (
        JSON.parse(
          readFileSync(
            join(fileURLToPath(new URL('../../node_modules', import.meta.url)), name, 'package.json'),
            'utf8',
          ),
        ) as { version: string }
      ).version;
    } catch {
      return 'unknown';
    }
  };
  const db = new Database(':memory:');
  const sqlite = (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
  db.close();
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemBytes: totalmem(),
    platform: process.platform,
    osRelease: release(),
    node: process.version,
    natsServer: (nats.stdout || nats.stderr || 'unknown').trim(),
    natsJs: pkg('nats'),
    betterSqlite3: pkg('better-sqlite3'),
    sqlite,
    loadavgAtStart: loadavg(),
  };
}

/** Fills `results.rows[key]` from its samples. */
export function addRow(results: BenchResults, key: RowKey, samples: Sample[]): void {
  results.rows[key] = { label: ROW_LABELS[key], medianRate: Math.round(medianSample(samples).rate), samples };
}

/** Computes the ratios whose rows were measured. */
export function computeRatios(results: BenchResults): void {
  const ratios: NonNullable<BenchResults['ratios']> = {};
  for (const g of GOALS) {
    const num = results.rows[g.num]?.medianRate;
    const den = results.rows[g.den]?.medianRate;
    if (num === undefined || den === undefined || den === 0) continue;
    const value = num / den;
    ratios[g.name] = { value, goal: g.min, met: g.min === null ? null : value >= g.min };
  }
  results.ratios = ratios;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');

/** The human table. */
export function renderTable(results: BenchResults): string {
  const t = new Table({
    head: ['measurement', 'msg/s (median)', 'samples msg/s', 'notes'],
    style: { head: [], border: [] },
  });
  for (const key of ROWS) {
    const row = results.rows[key];
    if (row === undefined) continue;
    const med = medianSample(row.samples);
    const notes =
      med.extra === undefined
        ? ''
        : Object.entries(med.extra)
            .map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : v}`)
            .join(' ');
    t.push([row.label, fmt(row.medianRate), row.samples.map((s) => fmt(s.rate)).join(' / '), notes]);
  }
  for (const [name, r] of Object.entries(results.ratios ?? {})) {
    const goal = r.goal === null ? 'context' : `goal ≥ ${r.goal.toFixed(1)}: ${r.met ? 'met' : 'NOT met'}`;
    t.push([`ratio ${name}`, r.value.toFixed(2), '', goal]);
  }
  const l = results.latency;
  if (l !== undefined) {
    t.push([
      `latency at ${fmt(l.offeredRate)}/s (½ of (c)), n=${fmt(l.count)}`,
      `accept p50 ${ms(l.acceptP50Ms)} ms`,
      `accept p99 ${ms(l.acceptP99Ms)} ms`,
      `achieved ${fmt(l.achievedRate)}/s`,
    ]);
    t.push([
      '',
      `commit p50 ${ms(l.commitP50Ms)} ms`,
      `commit p99 ${ms(l.commitP99Ms)} ms`,
      `max accept ${ms(l.acceptMaxMs)} / commit ${ms(l.commitMaxMs)} ms`,
    ]);
  }
  if (results.leaf !== undefined) for (const row of leafTableRows(results.leaf)) t.push(row);
  const r = results.rss;
  if (r !== undefined) {
    const mib = (b: number): string => `${(b / 1_048_576).toFixed(0)} MiB`;
    t.push([
      `RSS, ${fmt(r.count)} intents buffered (child)`,
      mib(r.rssBytes),
      `after GC ${mib(r.rssAfterGcBytes)}, peak ${mib(r.maxRssBytes)}`,
      `idle ${mib(r.rssIdleBytes)}, pending=${fmt(r.pending)}`,
    ]);
  }
  return t.toString();
}

/** Writes the JSON to `<dir>/<timestamp>.json` and returns its path. */
export function writeResults(results: BenchResults, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${results.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}
