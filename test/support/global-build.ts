/**
 * Vitest global setup for the integration and chaos projects: builds the project with tsc so that
 * tests spawning the real CLI (`node dist/src/cli/main.js`) run the current code. Skipped when the
 * build is newer than every source it is made from (`npm test` has just built it, say), the same
 * check scripts/ensure-env.sh makes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The newest modification time of a `.ts` file under `dir`. */
function newestTs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTs(path));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const root = resolve(import.meta.dirname, '../..');
  const built = resolve(root, 'dist/src/cli/main.js');
  const sources = ['src', 'bench', 'test/support'].map((d) => newestTs(resolve(root, d)));
  if (existsSync(built) && statSync(built).mtimeMs > Math.max(...sources)) return;
  const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
}
