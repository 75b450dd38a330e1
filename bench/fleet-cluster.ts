/**
 * The fleet of the fleet benchmark: N real `net-sync start` processes on loopback, each with its
 * own key (made up front, so every member list is known before the first start), outbox and API
 * port, and every other sidecar's address in `mesh.peers`. Consensus is a cohort of a few among
 * them (`cohort` mode, today's shape) or the whole fleet as members in shards (`shards` mode,
 * `consensus.members`). Stopped by PID: SIGTERM, then SIGKILL.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateIdentity, identityPeerId, writeIdentity } from '../src/mesh/identity.js';
import { reapOnExit } from '../src/devkit/child-reaper.js';
import { distinctFreePorts } from '../src/devkit/nats-server-process.js';
import { CLI } from './cli-sidecar.js';

/** How consensus is laid over the fleet. */
export type FleetMode = 'cohort' | 'shards';

/** Options of {@link FleetCluster.start}. */
export interface FleetOptions {
  dir: string;
  natsUrl: string;
  size: number;
  mode: FleetMode;
  /** `cohort` mode: the first this many sidecars are the cohort (all of them when the fleet is smaller). */
  cohortSize: number;
  /** `cohort` mode: endorsements needed (capped at a majority of a smaller cohort). */
  cohortQuorum: number;
  /** `shards` mode: `consensus.shardSize`; the quorum is `majority` of a shard. */
  shardSize: number;
  /** How many sidecars start at once; each start costs about a second of CPU. */
  startConcurrency?: number;
  /** How long one sidecar may take to answer /healthz, ms. Default 60 s + 2 s × size. */
  startTimeoutMs?: number;
  /** Sidecar 1 writes a V8 CPU profile here when it stops (`--cpu-prof`). */
  profileDir?: string;
}

/** One sidecar of the fleet. */
export interface FleetSidecar {
  index: number;
  peerId: string;
  /** API host:port. */
  api: string;
  dir: string;
  /** Its intents can commit: a cohort member (`cohort`), every sidecar (`shards`). */
  proposer: boolean;
  env: Record<string, string>;
  /** Node flags before the CLI (a CPU profile). */
  nodeArgs: string[];
  child?: ChildProcess;
  /** `performance.now()` when it was spawned. */
  startedAt?: number;
}

/** Mesh state of one sidecar, from `/v1/status`. */
export interface MeshState {
  connected: number;
  /** Topic mesh peers: of the home shard's topic for a fleet member, of the fleet topic otherwise. */
  meshPeers: number;
  /** Fleet member: its shard's size and the members it reaches (itself included). */
  shard?: { members: number; connected: number };
}

/** N sidecars against one nats-server. */
export class FleetCluster {
  private constructor(readonly sidecars: FleetSidecar[]) {}

  /** Makes keys and ports, then starts every sidecar and waits for its /healthz; stops them all on failure. */
  static async start(opts: FleetOptions): Promise<FleetCluster> {
    const sidecars = await prepare(opts);
    const cluster = new FleetCluster(sidecars);
    try {
      const queue = [...sidecars];
      const worker = async (): Promise<void> => {
        for (let s = queue.shift(); s !== undefined; s = queue.shift())
          await launch(s, opts.startTimeoutMs ?? 60_000 + 2_000 * opts.size);
      };
      await Promise.all(Array.from({ length: opts.startConcurrency ?? 4 }, worker));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Seconds since sidecar `i` was spawned (a profile's time axis). */
  uptimeSeconds(i: number): number {
    return (performance.now() - (this.sidecars[i]?.startedAt ?? 0)) / 1000;
  }

  /** PIDs of the running sidecars, in index order. */
  pids(): number[] {
    return this.sidecars.map((s) => s.child?.pid ?? -1);
  }

  /** Each sidecar's connected peers and topic mesh peers. */
  async meshStates(): Promise<MeshState[]> {
    return Promise.all(
      this.sidecars.map(async (s) => {
        try {
          const res = await fetch(`http://${s.api}/v1/status`, { signal: AbortSignal.timeout(5_000) });
          const st = (await res.json()) as {
            peers?: { connected?: string[]; meshPeers?: number };
            mesh?: { homeMeshPeers?: number };
            shard?: { members?: string[]; connectedMembers?: number };
          };
          const connected = st.peers?.connected?.length ?? 0;
          if (st.shard === undefined) return { connected, meshPeers: st.peers?.meshPeers ?? 0 };
          return {
            connected,
            meshPeers: st.mesh?.homeMeshPeers ?? 0,
            shard: { members: st.shard.members?.length ?? 0, connected: st.shard.connectedMembers ?? 0 },
          };
        } catch {
          return { connected: 0, meshPeers: 0 };
        }
      }),
    );
  }

  /**
   * Waits until the mesh is formed, at most `timeoutMs`: a fleet member reaches all its shard
   * mates and has them all (up to 4) in its home topic's mesh; a cohort sidecar is connected to all others and has at
   * least `min(N − 1, 4)` topic mesh peers. Returns whether it formed and the last states: a mesh
   * that does not form is a finding to report, not a reason to stop.
   */
  async waitMesh(timeoutMs: number): Promise<{ formed: boolean; states: MeshState[] }> {
    const n = this.sidecars.length;
    const formed = (s: MeshState): boolean =>
      s.shard === undefined
        ? s.connected >= n - 1 && s.meshPeers >= Math.min(n - 1, 4)
        : s.shard.members > 0 &&
          s.shard.connected >= s.shard.members &&
          s.meshPeers >= Math.min(s.shard.members - 1, 4);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await this.meshStates();
      if (states.every(formed)) return { formed: true, states };
      if (Date.now() > deadline) return { formed: false, states };
      await sleep(500);
    }
  }

  /** SIGTERM every sidecar by PID, SIGKILL after 15 s; safe twice. */
  async stop(): Promise<void> {
    await Promise.all(this.sidecars.map((s) => stopChild(s.child)));
  }

  /** The last lines of sidecar `i`'s log. */
  logTail(i: number, lines = 15): string {
    return tail(this.sidecars[i]!.dir, lines);
  }
}

// Keys, ports and env of every sidecar, before any starts.
async function prepare(opts: FleetOptions): Promise<FleetSidecar[]> {
  const port = distinctFreePorts();
  const meshPorts: number[] = [];
  const sidecars: FleetSidecar[] = [];
  for (let i = 0; i < opts.size; i++) {
    const dir = join(opts.dir, `sidecar-${i + 1}`);
    mkdirSync(dir, { recursive: true });
    const key = await generateIdentity();
    await writeIdentity(join(dir, 'net-sync.key'), key);
    const api = `127.0.0.1:${await port()}`;
    meshPorts.push(await port());
    const nodeArgs =
      i === 0 && opts.profileDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [];
    sidecars.push({ index: i, peerId: identityPeerId(key), api, dir, proposer: true, env: {}, nodeArgs });
  }
  const addr = (j: number): string => `/ip4/127.0.0.1/tcp/${meshPorts[j]}/p2p/${sidecars[j]!.peerId}`;
  const consensus = consensusEnv(opts, sidecars);
  for (const s of sidecars) {
    s.proposer = opts.mode === 'shards' || s.index < opts.cohortSize;
    s.env = {
      PATH: process.env['PATH'] ?? '',
      HOME: s.dir,
      NET_SYNC_NATS_SERVERS: opts.natsUrl,
      NET_SYNC_API_LISTEN: s.api,
      NET_SYNC_BUFFER_PATH: join(s.dir, 'net-sync.db'),
      NET_SYNC_MESH_KEY_FILE: join(s.dir, 'net-sync.key'),
      NET_SYNC_LOG_LEVEL: 'warn',
      NET_SYNC_MESH_ENABLED: 'true',
      NET_SYNC_MESH_LISTEN: `/ip4/127.0.0.1/tcp/${meshPorts[s.index]}`,
      NET_SYNC_MESH_PEERS: sidecars
        .filter((o) => o !== s)
        .map((o) => addr(o.index))
        .join(','),
      ...consensus,
    };
  }
  return sidecars;
}

// The consensus env both modes give every sidecar alike.
function consensusEnv(opts: FleetOptions, sidecars: FleetSidecar[]): Record<string, string> {
  const ids = sidecars.map((s) => s.peerId);
  if (opts.mode === 'shards') {
    return {
      NET_SYNC_CONSENSUS_MEMBERS: ids.join(','),
      NET_SYNC_CONSENSUS_SHARD_SIZE: String(opts.shardSize),
      NET_SYNC_CONSENSUS_QUORUM: 'majority',
    };
  }
  const cohort = ids.slice(0, opts.cohortSize);
  return {
    NET_SYNC_CONSENSUS_COHORT: cohort.join(','),
    NET_SYNC_CONSENSUS_QUORUM: String(Math.min(opts.cohortQuorum, Math.floor(cohort.length / 2) + 1)),
  };
}

async function launch(s: FleetSidecar, timeoutMs: number): Promise<void> {
  const log = openSync(join(s.dir, 'sidecar.log'), 'a');
  const child = spawn(process.execPath, [...s.nodeArgs, CLI, 'start'], {
    cwd: s.dir,
    env: s.env,
    stdio: ['ignore', log, log],
  });
  s.startedAt = performance.now();
  closeSync(log);
  reapOnExit(child);
  s.child = child;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`sidecar-${s.index + 1} exited (${child.exitCode ?? child.signalCode}):\n${tail(s.dir)}`);
    try {
      const res = await fetch(`http://${s.api}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`sidecar-${s.index + 1} not healthy after ${timeoutMs} ms:\n${tail(s.dir)}`);
}

// The last lines of a sidecar's log (its dir is removed after the run).
function tail(dir: string, lines = 15): string {
  try {
    return readFileSync(join(dir, 'sidecar.log'), 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const pid = child.pid;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Whether this build knows `consensus.members` and `consensus.shardSize`: `net-sync config print
 * --json` with both set in the env (the CLI refuses an env variable no key maps to, exit 2).
 */
export async function shardsSupport(): Promise<{ supported: boolean; reason: string }> {
  const member = identityPeerId(await generateIdentity());
  const r = spawnSync(process.execPath, [CLI, 'config', 'print', '--json'], {
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      PATH: process.env['PATH'] ?? '',
      NET_SYNC_CONSENSUS_MEMBERS: member,
      NET_SYNC_CONSENSUS_SHARD_SIZE: '5',
    },
  });
  if (r.status === 0) {
    try {
      const c = JSON.parse(r.stdout) as { consensus?: { members?: unknown; shardSize?: unknown } };
      if (Array.isArray(c.consensus?.members) && c.consensus?.shardSize === 5) return { supported: true, reason: '' };
    } catch {
      // fall through
    }
  }
  const why = `${r.stdout}${r.stderr}`.replace(/\s+/g, ' ').trim().slice(0, 300);
  return { supported: false, reason: `config print exit ${r.status}: ${why}` };
}
