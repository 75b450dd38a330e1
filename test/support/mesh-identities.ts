/**
 * Identities for a mesh of real sidecar processes: a temp dir per node with a key from
 * `net-sync keygen` (the real CLI), its peer ID, and a free loopback port for its mesh listener.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { freePort } from '../../src/devkit/nats-server-process.js';
import { runCliProcess } from './sidecar-process.js';
import { tempDir } from './temp-dir.js';

export interface MeshIdentities {
  dirs: string[];
  peerIds: string[];
  ports: number[];
  /** `/ip4/127.0.0.1/tcp/<port>/p2p/<peerId>` of node `i`. */
  addr(i: number): string;
  /** The mesh env of node `i` in a full mesh: listen on its port, dial every other node directly. */
  meshEnv(i: number): Record<string, string>;
}

export async function meshIdentities(n: number, label: string): Promise<MeshIdentities> {
  const dirs = Array.from({ length: n }, () => tempDir(label));
  const peerIds: string[] = [];
  for (const dir of dirs) {
    const r = await runCliProcess(
      ['keygen', '--out', join(dir, 'net-sync.key'), '--json'],
      { PATH: process.env['PATH'] ?? '', HOME: dir },
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    peerIds.push(JSON.parse(r.stdout).peerId);
  }
  const ports = await Promise.all(dirs.map(() => freePort()));
  const addr = (i: number): string => `/ip4/127.0.0.1/tcp/${ports[i]}/p2p/${peerIds[i]}`;
  const meshEnv = (i: number): Record<string, string> => ({
    NET_SYNC_MESH_ENABLED: 'true',
    NET_SYNC_MESH_LISTEN: `/ip4/127.0.0.1/tcp/${ports[i]}`,
    NET_SYNC_MESH_PEERS: dirs
      .map((_, j) => addr(j))
      .filter((_, j) => j !== i)
      .join(','),
  });
  return { dirs, peerIds, ports, addr, meshEnv };
}
