/**
 * The processes of `net-sync demo`: one local nats-server (our launcher) and N sidecars, each a
 * real `net-sync start` child process with its own key, outbox and API port. Stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetSyncError } from '../core/errors.js';
import { generateIdentity, identityPeerId, writeIdentity } from '../mesh/identity.js';
import { distinctFreePorts, NatsServerProcess } from './nats-server-process.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** One demo sidecar. */
export interface DemoSidecar {
  name: string;
  dir: string;
  peerId: string;
  api: string;
  bufferPath: string;
  env: Record<string, string>;
  /** Node flags before the CLI (benchmarks: `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs: string[];
  child: ChildProcess | null;
}

/**
 * Starts nats-server and `count` sidecars under `dir`; with `mesh`, they form a cohort with a majority quorum.
 * `extraEnv(i)` adds env to sidecar i (benchmarks); `nodeArgs(i)` its Node flags (profiling).
 */
export async function startDemoCluster(
  dir: string,
  count: number,
  mesh: boolean,
  extraEnv: (i: number) => Record<string, string> = () => ({}),
  nodeArgs: (i: number) => string[] = () => [],
): Promise<{ nats: NatsServerProcess; sidecars: DemoSidecar[] }> {
  const nats = await NatsServerProcess.start({ storeDir: join(dir, 'jetstream') });
  const sidecars: DemoSidecar[] = [];
  const meshPorts: number[] = [];
  // Every port is probed free then released, and all are bound later: never hand one out twice.
  const port = distinctFreePorts([nats.port]);
  for (let i = 0; i < count; i++) {
    const sdir = join(dir, `sidecar-${i + 1}`);
    mkdirSync(sdir, { recursive: true });
    const key = await generateIdentity();
    await writeIdentity(join(sdir, 'net-sync.key'), key);
    const api = `127.0.0.1:${await port()}`;
    const bufferPath = join(sdir, 'net-sync.db');
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '',
      NET_SYNC_NATS_SERVERS: nats.url,
      NET_SYNC_API_LISTEN: api,
      NET_SYNC_BUFFER_PATH: bufferPath,
      NET_SYNC_MESH_KEY_FILE: join(sdir, 'net-sync.key'),
      // Replay promptly once NATS is back: short reconnect waits and backoff cap.
      NET_SYNC_NATS_RECONNECT_WAIT_MS: '250',
      NET_SYNC_COMMIT_BACKOFF_MAX_MS: '1000',
    };
    sidecars.push({
      name: `sidecar-${i + 1}`,
      dir: sdir,
      peerId: identityPeerId(key),
      api,
      bufferPath,
      env,
      nodeArgs: nodeArgs(i),
      child: null,
    });
    meshPorts.push(await port());
  }
  if (mesh) wireMesh(sidecars, meshPorts);
  for (const [i, s] of sidecars.entries()) Object.assign(s.env, extraEnv(i));
  const launched = await Promise.allSettled(sidecars.map((s) => launch(s)));
  const failed = launched.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    // Leave no orphan behind: the sidecars that did start, and nats-server, are stopped.
    await stopSidecars(sidecars);
    await nats.dispose();
    throw failed.reason;
  }
  return { nats, sidecars };
}

// Every sidecar listens on its own loopback port and keeps the others as static peers; the
// cohort is the three peer IDs and a majority must endorse each intent.
function wireMesh(sidecars: DemoSidecar[], ports: number[]): void {
  const addr = (i: number): string => `/ip4/127.0.0.1/tcp/${ports[i]}/p2p/${sidecars[i]!.peerId}`;
  sidecars.forEach((s, i) => {
    Object.assign(s.env, {
      NET_SYNC_MESH_ENABLED: 'true',
      NET_SYNC_MESH_LISTEN: `/ip4/127.0.0.1/tcp/${ports[i]}`,
      NET_SYNC_MESH_PEERS: sidecars
        .map((_, j) => j)
        .filter((j) => j !== i)
        .map(addr)
        .join(','),
      NET_SYNC_CONSENSUS_COHORT: sidecars.map((p) => p.peerId).join(','),
      NET_SYNC_CONSENSUS_QUORUM: 'majority',
    });
  });
}

async function launch(s: DemoSidecar): Promise<void> {
  const log = openSync(join(s.dir, 'sidecar.log'), 'a');
  s.child = spawn(process.execPath, [...s.nodeArgs, CLI, 'start'], {
    cwd: s.dir,
    env: s.env,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const deadline = Date.now() + 60_000; // a loaded machine starts slowly
  while (Date.now() < deadline) {
    if (s.child.exitCode !== null)
      throw new NetSyncError(
        'INTERNAL',
        `${s.name} exited with ${s.child.exitCode}; see ${join(s.dir, 'sidecar.log')}`,
      );
    if (await ok(`http://${s.api}/healthz`)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new NetSyncError('INTERNAL', `${s.name} did not come up; see ${join(s.dir, 'sidecar.log')}`);
}

/** GET returning true on 2xx, false otherwise (including connection errors). */
export async function ok(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

/** SIGTERM each sidecar by PID and wait for it to exit (SIGKILL after 15 s). */
export async function stopSidecars(sidecars: DemoSidecar[]): Promise<void> {
  await Promise.all(
    sidecars.map(async (s) => {
      const child = s.child;
      if (child === null || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}
