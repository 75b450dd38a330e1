/**
 * `npm run bench:fleet`: what a fleet of N sidecars costs, per N (default 5, 10, 20, 40). N real
 * sidecar processes on loopback, each given the whole fleet's addresses in `mesh.peers`, one
 * nats-server; intents are scheduled at 1, 2 and 5/s round-robin over all N APIs (open loop), and
 * commit = the intent stored in the COMMANDS stream, read back by an ordered consumer. Per N:
 * commit p50/p99, lost and duplicated (stream IDs checked), fleet CPU per committed intent (slope
 * over the idle window and the unsaturated steps), idle CPU and RSS per sidecar, gossip envelopes
 * per node per intent, and the raw `js.publish` round trip on the same server. Table and JSON
 * (bench/results/fleet-<mode>-<time>.json); see docs/benchmarks.md and docs/fleet.md.
 * `BENCH_FLEET_RATES=0` measures the idle window only; `BENCH_FLEET_PROFILE=<dir>` profiles sidecar 1.
 */
import '../src/polyfills.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from 'nats';
import { NatsServerProcess } from '../src/devkit/nats-server-process.js';
import { FleetCluster, type FleetMode, shardsSupport } from './fleet-cluster.js';
import { rssBytes } from './fleet-probe.js';
import { rawGossipIdle } from './fleet-raw-gossip.js';
import { type FleetRun, summarise } from './fleet-stats.js';
import { idleWindow, loadStep, type StepContext } from './fleet-step.js';
import { ensureCommandsStream, rawNatsRoundTrip, StreamWatch } from './fleet-stream.js';
import { renderFleet } from './fleet-table.js';
import { machineFacts } from './report.js';

const list = (v: string | undefined, dflt: string): number[] =>
  (v ?? dflt)
    .split(',')
    .map(Number)
    .filter((x) => x > 0);

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'cohort' },
    sizes: { type: 'string' },
    rates: { type: 'string' },
    'shard-size': { type: 'string', default: '5' },
    'cohort-size': { type: 'string', default: '5' },
    'cohort-quorum': { type: 'string', default: '3' },
    targets: { type: 'string', default: 'all' },
    out: { type: 'string' },
    'skip-raw-gossip': { type: 'boolean', default: false },
  },
});

/** The run's settings: flags first, then `BENCH_FLEET_*` env, then defaults. */
const opts = {
  mode: args.mode as FleetMode,
  sizes: list(args.sizes ?? process.env['BENCH_FLEET_SIZES'], '5,10,20,40'),
  rates: list(args.rates ?? process.env['BENCH_FLEET_RATES'], '1,2,5'),
  shardSize: Number(args['shard-size']),
  cohortSize: Number(args['cohort-size']),
  cohortQuorum: Number(args['cohort-quorum']),
  /** `all` APIs (the shape) or only `proposers` (cohort members in `cohort` mode). */
  targets: args.targets as 'all' | 'proposers',
  stepMs: Number(process.env['BENCH_FLEET_STEP_MS'] ?? 20_000),
  idleMs: Number(process.env['BENCH_FLEET_IDLE_MS'] ?? 15_000),
  warmupMs: Number(process.env['BENCH_FLEET_WARMUP_MS'] ?? 10_000),
  drainMs: Number(process.env['BENCH_FLEET_DRAIN_MS'] ?? 10_000),
  rawSeconds: Number(process.env['BENCH_FLEET_RAW_SECONDS'] ?? 5),
  rawGossip: args['skip-raw-gossip'] !== true,
  /** `BENCH_FLEET_PROFILE=<dir>`: sidecar 1 runs with `--cpu-prof` into <dir> (see bench/cpu-profile-summary.ts). */
  profileDir: process.env['BENCH_FLEET_PROFILE'],
  /** `BENCH_FLEET_START_TIMEOUT_MS`: how long one sidecar may take to start (a loaded machine). */
  startTimeoutMs:
    process.env['BENCH_FLEET_START_TIMEOUT_MS'] === undefined
      ? undefined
      : Number(process.env['BENCH_FLEET_START_TIMEOUT_MS']),
};
const cores = cpus().length;
const outDir = resolve(args.out ?? resolve(import.meta.dirname, '../../bench/results'));

function log(msg: string): void {
  console.error(`[fleet ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

/** One fleet size: start, warm up, idle window, load steps, RSS; the fleet is stopped whatever happens. */
async function runSize(nats: NatsServerProcess, nc: NatsConnection, size: number): Promise<FleetRun> {
  const rawNats = await rawNatsRoundTrip(nc, 20, opts.rawSeconds);
  const rawGossip = opts.rawGossip ? await rawGossipIdle(size, Math.min(opts.idleMs, 10_000)) : undefined;
  if (rawGossip !== undefined)
    log(
      `N=${size}: raw gossip ${rawGossip.cpuMsPerNodePerSecond.toFixed(1)} ms/s per node (mesh min ${rawGossip.meshPeersMin})`,
    );
  const dir = mkdtempSync(join(tmpdir(), `net-sync-fleet-${size}-`));
  const run: FleetRun = {
    size,
    mode: opts.mode,
    startSeconds: 0,
    mesh: { formed: false, connectedMin: 0, meshPeersMin: 0, meshPeersMax: 0 },
    rawNats,
    ...(rawGossip === undefined ? {} : { rawGossip }),
    steps: [],
    rssBytes: [],
    proposers: [],
  };
  const t0 = performance.now();
  let cluster: FleetCluster | undefined;
  let watch: StreamWatch | undefined;
  try {
    const { profileDir } = opts;
    cluster = await FleetCluster.start({
      dir,
      natsUrl: nats.url,
      size,
      ...opts,
      startTimeoutMs: opts.startTimeoutMs,
      ...(profileDir === undefined ? {} : { profileDir: resolve(profileDir) }),
    });
    run.startSeconds = (performance.now() - t0) / 1000;
    run.proposers = cluster.sidecars.filter((s) => s.proposer).map((s) => s.index);
    log(`N=${size}: ${size} sidecars up in ${run.startSeconds.toFixed(1)} s; waiting for the mesh`);
    const mesh = await cluster.waitMesh(30_000 + 1_000 * size);
    const peers = mesh.states.map((s) => s.meshPeers);
    run.mesh = {
      formed: mesh.formed,
      connectedMin: Math.min(...mesh.states.map((s) => s.connected)),
      meshPeersMin: Math.min(...peers),
      meshPeersMax: Math.max(...peers),
    };
    if (!mesh.formed) log(`N=${size}: mesh not fully formed (${JSON.stringify(run.mesh)}); measuring anyway`);
    const subject = `root.solar.command.fleet.n${size}`;
    watch = await StreamWatch.start(nc, subject);
    const targets = cluster.sidecars.filter((s) => opts.targets === 'all' || s.proposer);
    const ctx: StepContext = { cluster, watch, subject, targets };
    // Warm-up: JIT, grafts, the stream's first writes; then quiet before the idle window. With no
    // rates (`BENCH_FLEET_RATES=0`) the run is idle only: no warm-up load, no steps.
    if (opts.rates.length > 0) await loadStep(ctx, Math.min(...opts.rates), opts.warmupMs / 2, 5_000);
    await sleep(opts.warmupMs / 2);
    const idleAt = cluster.uptimeSeconds(0);
    run.idle = await idleWindow(cluster, opts.idleMs);
    if (opts.profileDir !== undefined)
      log(
        `N=${size}: idle window from ${idleAt.toFixed(1)} s to ${cluster.uptimeSeconds(0).toFixed(1)} s of sidecar 1`,
      );
    log(`N=${size}: idle ${((run.idle.fleetCpuPerSecond * 1000) / size).toFixed(1)} ms/s per sidecar`);
    run.rawNatsUnderIdleFleet = await rawNatsRoundTrip(nc, 20, opts.rawSeconds);
    for (const rate of opts.rates) {
      const s = await loadStep(ctx, rate, opts.stepMs, opts.drainMs);
      run.steps.push(s);
      log(
        `N=${size} ${rate}/s: commit p50/p99 ${s.commitP50Ms.toFixed(0)}/${s.commitP99Ms.toFixed(0)} ms, ` +
          `committed ${s.committed}/${s.accepted}, lost ${s.lost} (${s.lostAtProposers} at proposers), dup ${s.duplicates}`,
      );
    }
    run.rssBytes = cluster.pids().map(rssBytes);
  } catch (err) {
    run.error = String((err as Error).stack ?? err);
    log(`N=${size}: failed: ${String(err)}`);
    for (let i = 0; cluster !== undefined && i < Math.min(3, cluster.sidecars.length); i++)
      log(`sidecar-${i + 1} log:\n${cluster.logTail(i)}`);
  } finally {
    await watch?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return run;
}

function writeJson(doc: Record<string, unknown>): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `fleet-${opts.mode}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

async function main(): Promise<number> {
  const machine = machineFacts();
  if (opts.mode !== 'cohort' && opts.mode !== 'shards') throw new Error(`--mode: cohort or shards, not ${opts.mode}`);
  if (opts.mode === 'shards') {
    const support = await shardsSupport();
    if (!support.supported) {
      const reason = `shards mode unavailable in this build (consensus.members not accepted): ${support.reason}`;
      console.log(reason);
      console.log(`wrote ${writeJson({ machine, opts, unavailable: reason })}`);
      return 1;
    }
  }
  log(`mode ${opts.mode}, sizes ${opts.sizes.join(',')}, rates ${opts.rates.join(',')}/s, ${opts.stepMs} ms per rate`);
  const storeDir = mkdtempSync(join(tmpdir(), 'net-sync-fleet-js-'));
  const nats = await NatsServerProcess.start({ storeDir });
  const runs: FleetRun[] = [];
  try {
    const nc = await connect({ servers: nats.url });
    try {
      await ensureCommandsStream(nc);
      for (const size of opts.sizes) runs.push(await runSize(nats, nc, size));
    } finally {
      await nc.close();
    }
  } finally {
    await nats.dispose();
    rmSync(storeDir, { recursive: true, force: true });
  }
  const summaries = runs.map((r) => summarise(r, cores));
  console.log(renderFleet(runs, summaries, cores));
  console.log(`wrote ${writeJson({ machine, opts, cores, summaries, runs })}`);
  return runs.some((r) => r.error !== undefined) ? 1 : 0;
}

process.exitCode = await main();
