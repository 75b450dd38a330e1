/**
 * Runs bench/rss-child.js in its own process, so the RSS it reports belongs to a sidecar
 * holding the buffered intents and nothing else of the benchmark.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { budgetMs } from './common.js';
import type { RssReport } from './rss-child.js';

/** Spawns the child with `count` intents and returns its report. Bounded in time; killed by PID. */
export function measureRss(count: number): Promise<RssReport> {
  const script = fileURLToPath(new URL('./rss-child.js', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', script, '--count', String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        reject(new Error(`rss child did not finish in time: ${err.slice(-500)}`));
      },
      budgetMs(count, 1_000),
    );
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') return reject(new Error(`rss child exited ${code}: ${err.slice(-500)}`));
      try {
        resolve(JSON.parse(line) as RssReport);
      } catch (e) {
        reject(new Error(`rss child printed no report: ${String(e)}: ${line}`));
      }
    });
  });
}
