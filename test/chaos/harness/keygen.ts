/**
 * `net-sync keygen` through the CLI under test: a mesh identity written where a chaos sidecar
 * reads it (`<dir>/<name>.key`), and its peer ID.
 */
import { spawn } from 'node:child_process';
import { CLI } from '../../support/sidecar-process.js';

/** Writes a new key to `file` (`net-sync keygen --out FILE --json`) and returns its peer ID. */
export async function keygen(file: string): Promise<string> {
  // A clean env: the CLI refuses unknown NET_SYNC_* variables, and NET_SYNC_CHAOS_* are ours.
  const child = spawn(process.execPath, [CLI, 'keygen', '--out', file, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '' },
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`keygen exited ${code}: ${out}`);
  return (JSON.parse(out) as { peerId: string }).peerId;
}
