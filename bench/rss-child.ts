/**
 * Child process of the RSS measurement: a sidecar whose NATS URL has no server, fed
 * `--count` intents through `intake.accept()` so they all stay buffered (pending-commit).
 * Prints one JSON line with its memory figures. Run as
 * `node --expose-gc dist/bench/rss-child.js --count 1000000`.
 */
import { freePort } from '../src/devkit/nats-server-process.js';
import { budgetMs, closedLoop, WINDOW, withTempDir, within } from './common.js';
import { startBenchSidecar } from './sidecar-harness.js';

/** What the child reports. Sizes in bytes. */
export interface RssReport {
  count: number;
  pending: number;
  rssIdleBytes: number;
  rssBytes: number;
  rssAfterGcBytes: number;
  maxRssBytes: number;
  heapUsedBytes: number;
  fillRate: number;
}

async function main(): Promise<void> {
  const idx = process.argv.indexOf('--count');
  const count = Number(idx > 0 ? process.argv[idx + 1] : NaN);
  if (!Number.isInteger(count) || count <= 0) throw new Error('usage: rss-child --count N');
  const report = await withTempDir(async (dir) => {
    // A port nothing listens on: NATS is down for the whole run.
    const bench = await startBenchSidecar(dir, `nats://127.0.0.1:${await freePort()}`, false);
    try {
      gc();
      const rssIdleBytes = process.memoryUsage().rss;
      const started = performance.now();
      await within('rss fill', budgetMs(count, 1_000), closedLoop(count, WINDOW, bench.accept));
      const fillRate = Math.round(count / ((performance.now() - started) / 1_000));
      const pending = bench.sidecar.outbox.counts('command')['pending-commit'];
      const rssBytes = process.memoryUsage().rss;
      gc();
      const mem = process.memoryUsage();
      const r: RssReport = {
        count,
        pending,
        rssIdleBytes,
        rssBytes,
        rssAfterGcBytes: mem.rss,
        maxRssBytes: process.resourceUsage().maxRSS * 1_024,
        heapUsedBytes: mem.heapUsed,
        fillRate,
      };
      return r;
    } finally {
      await bench.stop();
    }
  });
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`rss-child: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
