/**
 * Accept and commit latency at a fixed offered rate (open loop): intents are submitted on a
 * schedule whatever the answers, and each latency is measured from the intent's scheduled
 * time, so a stall counts against us instead of slowing the load (no coordinated omission).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  budgetMs,
  closedLoop,
  quantile,
  waitUntil,
  WINDOW,
  withNats,
  withTempDir,
  within,
  type Sizes,
} from './common.js';
import { startBenchSidecar } from './sidecar-harness.js';

/** Latencies in ms at one offered rate. */
export interface LatencyResult {
  offeredRate: number;
  achievedRate: number;
  count: number;
  acceptP50Ms: number;
  acceptP99Ms: number;
  commitP50Ms: number;
  commitP99Ms: number;
  acceptMaxMs: number;
  commitMaxMs: number;
}

/** Runs `sizes.latencySeconds` of load at `rate` intents/s through `intake.accept()`. */
export function measureLatency(sizes: Sizes, rate: number): Promise<LatencyResult> {
  return withNats((server) =>
    withTempDir(async (dir) => {
      const bench = await startBenchSidecar(dir, server.url, true);
      try {
        await within('latency warm-up', budgetMs(sizes.warmup), closedLoop(sizes.warmup, WINDOW, bench.accept));
        await bench.waitCommitted(sizes.warmup, budgetMs(sizes.warmup));
        return await openLoop(bench, sizes, rate);
      } finally {
        await bench.stop();
      }
    }),
  );
}

async function openLoop(
  bench: Awaited<ReturnType<typeof startBenchSidecar>>,
  sizes: Sizes,
  rate: number,
): Promise<LatencyResult> {
  const total = Math.max(1, Math.round(rate * sizes.latencySeconds));
  const intervalMs = 1_000 / rate;
  const scheduled = new Map<string, number>();
  const accept: number[] = [];
  const commit: number[] = [];
  bench.sidecar.committer.on('intent:committed', (rows) => {
    const now = performance.now();
    for (const r of rows) {
      const at = scheduled.get(r.correlationId);
      if (at === undefined) continue;
      commit.push(now - at);
      scheduled.delete(r.correlationId);
    }
  });
  const before = bench.committed();
  let failure: unknown = null;
  const t0 = performance.now();
  const deadline = t0 + sizes.latencySeconds * 1_000 * 3 + 10_000;
  let sent = 0;
  while (sent < total && failure === null) {
    const now = performance.now();
    if (now > deadline) throw new Error(`latency: submission fell behind (${sent}/${total})`);
    const due = Math.min(total, Math.floor((now - t0) / intervalMs) + 1);
    for (; sent < due; sent++) {
      const at = t0 + sent * intervalMs;
      bench.accept().then(
        (a) => {
          accept.push(performance.now() - at);
          // Recorded after the accept resolves: a commit event cannot precede its accept.
          scheduled.set((a as { correlationId: string }).correlationId, at);
        },
        (err: unknown) => (failure ??= err),
      );
    }
    await sleep(1);
  }
  if (failure !== null) throw failure;
  const sendSeconds = (performance.now() - t0) / 1_000;
  await waitUntil('latency: all accepted', () => accept.length >= total || failure !== null, 30_000, 5);
  await bench.waitCommitted(before + total, budgetMs(total));
  return {
    offeredRate: Math.round(rate),
    achievedRate: Math.round(total / sendSeconds),
    count: total,
    acceptP50Ms: quantile(accept, 0.5),
    acceptP99Ms: quantile(accept, 0.99),
    commitP50Ms: quantile(commit, 0.5),
    commitP99Ms: quantile(commit, 0.99),
    acceptMaxMs: quantile(accept, 1),
    commitMaxMs: quantile(commit, 1),
  };
}
