/**
 * (i3) Intent on host A → applied by the agent on host B: three sidecar processes in a loopback
 * libp2p mesh (keys from `net-sync keygen`), quorum 2, cohort of all three; sidecar 2 runs the
 * inbox and pushes to the agent. Intents are POSTed to sidecars 0 and 1 in turn, open loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/devkit/nats-server-process.js';
import { BenchAgent } from './bench-agent.js';
import { CliSidecar, keygen } from './cli-sidecar.js';
import { PREFIX, withNats } from './common.js';
import { openLoop, type OpenLoopFigures } from './open-loop.js';

/** Subject of the mesh run's intents. */
export const MESH_SUBJECT = `${PREFIX}.command.bench.mesh`;
const NODES = 3;
const QUORUM = 2;

/** (i3) figures: the open loop's, and how the run was set up. */
export interface MeshLatency extends OpenLoopFigures {
  nodes: number;
  quorum: number;
  /** Milliseconds from spawning the sidecars to every one having its 2 mesh peers. */
  meshReadyMs: number;
  /** The warm-up phase at the same rate, not counted. */
  warmup: OpenLoopFigures;
}

/**
 * Runs `rate` intents/s for `warmupSeconds` (JIT, connections; reported apart), then for `seconds`;
 * each latency runs from the scheduled POST to the agent's receipt on sidecar 2.
 */
export function measureMesh(
  rate: number,
  seconds: number,
  warmupSeconds: number,
  cpuProfDir?: string,
): Promise<MeshLatency> {
  return withNats(async (server) => {
    const cleanups: Array<() => Promise<void> | void> = [];
    try {
      const agent = new BenchAgent(true);
      await agent.start();
      cleanups.push(() => agent.stop());
      const dirs = Array.from({ length: NODES }, () => mkdtempSync(join(tmpdir(), 'net-sync-bench-mesh-')));
      cleanups.push(() => {
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      });
      const peerIds: string[] = [];
      for (const dir of dirs) peerIds.push(await keygen(dir));
      const ports = await Promise.all(dirs.map(() => freePort()));
      const addr = (i: number): string => `/ip4/127.0.0.1/tcp/${ports[i]}/p2p/${peerIds[i]}`;
      const started = performance.now();
      const sidecars = await Promise.all(
        dirs.map((dir, i) =>
          CliSidecar.start({
            dir,
            natsUrl: server.url,
            env: {
              NET_SYNC_MESH_ENABLED: 'true',
              NET_SYNC_MESH_LISTEN: `/ip4/127.0.0.1/tcp/${ports[i]}`,
              NET_SYNC_MESH_PEERS: dirs.flatMap((_, j) => (j === i ? [] : [addr(j)])).join(','),
              NET_SYNC_CONSENSUS_QUORUM: String(QUORUM),
              NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
              ...(i === 2 ? { NET_SYNC_INBOX_SUBJECTS: MESH_SUBJECT, NET_SYNC_INBOX_PUSH_URL: agent.url } : {}),
            },
            ...(i === 2 && cpuProfDir !== undefined ? { cpuProfDir } : {}),
          }),
        ),
      );
      for (const s of sidecars) cleanups.push(() => s.stop());
      await waitMeshed(sidecars);
      const meshReadyMs = Math.round(performance.now() - started);
      const post = (i: number): Promise<string | undefined> => postIntent(sidecars[i % 2]!, i);
      const load = (secs: number, offset: number): Promise<OpenLoopFigures> =>
        openLoop({
          rate,
          seconds: secs,
          send: (i) => post(offset + i),
          receivedAt: (id) => agent.firstAt.get(id),
          storedAt: (id) => agent.storedAt(id),
          duplicates: () => agent.duplicates,
          settleMs: 30_000,
        });
      const warmup = await load(warmupSeconds, 1_000_000);
      agent.reset();
      const figures = await load(seconds, 0);
      return { nodes: NODES, quorum: QUORUM, meshReadyMs, ...figures, warmup };
    } finally {
      for (let c = cleanups.pop(); c !== undefined; c = cleanups.pop()) await c();
    }
  });
}

/** Waits until every sidecar reports its 2 mesh peers grafted (`/v1/status` mesh.meshPeers). */
async function waitMeshed(sidecars: readonly CliSidecar[], timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const peers = await Promise.all(
      sidecars.map(
        async (s) => ((await s.get('/v1/status'))?.['mesh'] as { meshPeers?: number } | undefined)?.meshPeers ?? 0,
      ),
    );
    if (peers.every((p) => p >= NODES - 1)) return;
    if (performance.now() > deadline) throw new Error(`bench: mesh peers ${peers.join('/')} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** POST /v1/intents; the correlation ID on 202, else undefined. */
async function postIntent(s: CliSidecar, n: number): Promise<string | undefined> {
  const res = await fetch(`${s.url}/v1/intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ subject: MESH_SUBJECT, payload: { n } }),
  });
  const json = (await res.json()) as { correlationId?: string };
  return res.status === 202 ? json.correlationId : undefined;
}
