/**
 * A mesh of real sidecar processes whose every link runs through its own TCP fault proxy, for
 * partition tests: node `from` dials node `to` (from < to) through the proxy of that pair, and
 * each node announces an address nobody listens on, so identify never hands out a real port and
 * a reconnect by peer ID cannot go round the proxies. Cutting proxies partitions the mesh while
 * every process keeps running.
 */
import { FaultProxy } from '../chaos/harness/fault-proxy.js';
import { Prng } from '../chaos/harness/prng.js';
import { meshIdentities } from './mesh-identities.js';
import { registerCleanup } from './nats-fixture.js';
import { SidecarProcess } from './sidecar-process.js';
import { waitFor } from './wait-for.js';

/** The proxy carrying the link from node `from` to node `to`. */
export interface MeshLink {
  from: number;
  to: number;
  proxy: FaultProxy;
}

/** One proxy per pair of nodes, forwarding to the mesh port of the higher one; stopped when the test file ends. */
export async function startMeshLinks(ports: readonly number[], seed = 1): Promise<MeshLink[]> {
  const rng = new Prng(seed); // cut and heal use none; the proxy wants one for jitter
  const links: MeshLink[] = [];
  for (let from = 0; from < ports.length; from++) {
    for (let to = from + 1; to < ports.length; to++) {
      const start = (): Promise<FaultProxy> =>
        FaultProxy.start({ name: `${from}→${to}`, target: { host: '127.0.0.1', port: ports[to]! }, rng });
      let proxy = await start();
      // The OS may hand a proxy (port 0) a mesh port that freePort() just released: take another.
      for (let i = 0; i < 10 && ports.includes(proxy.port); i++) {
        const taken = proxy;
        proxy = await start();
        await taken.stop();
      }
      const p = proxy;
      registerCleanup(() => p.stop());
      links.push({ from, to, proxy });
    }
  }
  return links;
}

/** The mesh env of node `i`: listen on its port, announce nothing reachable, dial its links. */
export function proxiedMeshEnv(
  i: number,
  ports: readonly number[],
  peerIds: readonly string[],
  links: readonly MeshLink[],
): Record<string, string> {
  return {
    NET_SYNC_MESH_ENABLED: 'true',
    NET_SYNC_MESH_LISTEN: `/ip4/127.0.0.1/tcp/${ports[i]}`,
    NET_SYNC_MESH_ANNOUNCE: '/ip4/127.0.0.1/tcp/9', // discard: nobody listens
    NET_SYNC_MESH_PEERS: links
      .filter((l) => l.from === i)
      .map((l) => `/ip4/127.0.0.1/tcp/${l.proxy.port}/p2p/${peerIds[l.to]}`)
      .join(','),
  };
}

/** A started proxied mesh: its sidecars, the links to cut, and the peer IDs by index. */
export interface ProxiedMesh {
  sidecars: SidecarProcess[];
  links: MeshLink[];
  peerIds: string[];
}

/**
 * Starts `n` sidecar processes on a proxied mesh (warn-level logs, killed when the test file
 * ends) and waits until each is connected to the other `n - 1`. `env(i, peerIds)` adds node
 * `i`'s own settings.
 */
export async function startProxiedMesh(opts: {
  natsUrl: string;
  n: number;
  label: string;
  seed: number;
  env: (i: number, peerIds: readonly string[]) => Record<string, string>;
}): Promise<ProxiedMesh> {
  const { dirs, peerIds, ports } = await meshIdentities(opts.n, opts.label);
  const links = await startMeshLinks(ports, opts.seed);
  const sidecars = dirs.map(
    (dir, i) =>
      new SidecarProcess({
        natsUrl: opts.natsUrl,
        dir,
        env: { NET_SYNC_LOG_LEVEL: 'warn', ...proxiedMeshEnv(i, ports, peerIds, links), ...opts.env(i, peerIds) },
      }),
  );
  for (const s of sidecars) registerCleanup(async () => void (await s.kill('SIGKILL')));
  await Promise.all(sidecars.map((s) => s.start()));
  for (const s of sidecars) {
    await waitFor(
      async () => (await s.get('/v1/status')).json.mesh.peers === opts.n - 1,
      `sidecar :${s.port} to see ${opts.n - 1} peers`,
      20_000,
      50,
    );
  }
  return { sidecars, links, peerIds };
}
