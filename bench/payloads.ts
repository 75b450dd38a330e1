/**
 * Payloads by reference (docs/payloads.md): MiB/s of 1, 8 and 32 MiB payloads through net-sync
 * (HTTP POST to a sidecar → durable in SQLite → Object Store put → command published) against a
 * raw nats.js Object Store `put` of the same bytes, in the same run on the same nats-server.
 * Goal: net-sync ≥ 0.7× raw. Runs alternate, so load drifts hit both; the median of `--reps` counts.
 * net-sync must also make the payload durable before its 202, which the raw put does not: the
 * `durable` column times that alone (one write and fsync of the same bytes beside the outbox).
 *
 *   npm run bench:payloads [-- --reps 3 --sizes 1,8,32 --out bench/results]
 */
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from 'nats';
import { canonicalJson } from '../src/core/digest.js';
import { withNats, withTempDir, waitUntil } from './common.js';
import { startBenchSidecar } from './sidecar-harness.js';

const MiB = 1_048_576;
const SUBJECT = 'root.solar.command.bench.payload';

interface Row {
  sizeMiB: number;
  netSyncMiBs: number;
  rawMiBs: number;
  ratio: number;
  netSyncMs: number[];
  rawMs: number[];
  /** One write + fsync of the same bytes in the outbox's directory: the work the raw put does not do. */
  durableMs: number[];
  /** Median durable write over median net-sync time. */
  durableShare: number;
}

function args(): { reps: number; sizes: number[]; out: string } {
  const a = process.argv.slice(2);
  const get = (name: string) => {
    const i = a.indexOf(name);
    return i >= 0 ? a[i + 1] : undefined;
  };
  return {
    reps: Number(get('--reps') ?? 3),
    sizes: (get('--sizes') ?? '1,8,32').split(',').map(Number),
    out: resolve(get('--out') ?? join(import.meta.dirname, '../../bench/results')),
  };
}

// A payload whose canonical JSON is `bytes` long: one string of characters a compressor cannot shrink.
function payloadOf(bytes: number, seed: number): { blob: string } {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const chars = new Array<string>(bytes - 11);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < chars.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    chars[i] = alphabet[(x >>> 0) & 63]!;
  }
  return { blob: chars.join('') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { reps, sizes, out } = args();
  const loadAtStart = loadavg();
  const rows: Row[] = [];
  await withNats(async (server) =>
    withTempDir(async (dir) => {
      const bench = await startBenchSidecar(dir, server.url, true);
      const nc = await connect({ servers: server.url });
      try {
        const api = `http://${bench.sidecar.api.boundAddress}/v1/intents`;
        const committedIds = new Set<string>();
        bench.sidecar.committer.on('intent:committed', (rs) => {
          for (const r of rs) committedIds.add(r.correlationId);
        });
        const raw = await nc.jetstream({ timeout: 30_000 }).views.os('BENCH_RAW', { max_bytes: -1 });
        for (const size of sizes) {
          const row: Row = {
            sizeMiB: size,
            netSyncMiBs: 0,
            rawMiBs: 0,
            ratio: 0,
            netSyncMs: [],
            rawMs: [],
            durableMs: [],
            durableShare: 0,
          };
          for (let rep = 0; rep < reps; rep++) {
            const payload = payloadOf(size * MiB, size * 1_000 + rep);
            const text = JSON.stringify({ subject: SUBJECT, payload });
            const bytes = new TextEncoder().encode(canonicalJson(payload));
            // Raw: one Object Store put of the same bytes (what the sidecar uploads).
            let t0 = performance.now();
            await raw.putBlob({ name: `raw-${size}-${rep}` }, bytes, { timeout: 60_000 });
            row.rawMs.push(performance.now() - t0);
            // net-sync: from the POST to the commit of the command that references the object.
            t0 = performance.now();
            const res = await fetch(api, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: text,
            });
            const accepted = (await res.json()) as { correlationId?: string };
            if (res.status !== 202 || accepted.correlationId === undefined)
              throw new Error(`bench: ${size} MiB not accepted: ${res.status} ${JSON.stringify(accepted)}`);
            const id = accepted.correlationId;
            await waitUntil(`${size} MiB intent ${id} committed`, () => committedIds.has(id), 120_000, 2);
            row.netSyncMs.push(performance.now() - t0);
            // The durable write alone, as the store does it (write, fsync; the rename is not timed).
            const probe = join(dir, `durable-${size}-${rep}`);
            t0 = performance.now();
            const fd = openSync(probe, 'w', 0o600);
            for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
            fsyncSync(fd);
            closeSync(fd);
            row.durableMs.push(performance.now() - t0);
            rmSync(probe);
          }
          row.rawMiBs = size / (median(row.rawMs) / 1_000);
          row.netSyncMiBs = size / (median(row.netSyncMs) / 1_000);
          row.ratio = row.netSyncMiBs / row.rawMiBs;
          row.durableShare = median(row.durableMs) / median(row.netSyncMs);
          rows.push(row);
          console.log(
            `${String(size).padStart(3)} MiB  net-sync ${row.netSyncMiBs.toFixed(1).padStart(6)} MiB/s  ` +
              `raw put ${row.rawMiBs.toFixed(1).padStart(6)} MiB/s  ratio ${row.ratio.toFixed(2)}×  ` +
              `durable write ${(row.durableShare * 100).toFixed(0)}% of net-sync  ` +
              `(median of ${reps}; ms net-sync ${row.netSyncMs.map((m) => m.toFixed(0)).join('/')}, raw ${row.rawMs.map((m) => m.toFixed(0)).join('/')}, durable ${row.durableMs.map((m) => m.toFixed(0)).join('/')})`,
          );
        }
      } finally {
        await nc.close();
        await bench.stop();
      }
    }),
  );
  const loadAtEnd = loadavg();
  console.log(
    `load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at start, ${loadAtEnd.map((l) => l.toFixed(2)).join(' ')} at end`,
  );
  mkdirSync(out, { recursive: true });
  const file = join(out, `payloads-${new Date().toISOString().replaceAll(':', '-').replace('.', '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ bench: 'payloads', reps, rows, machine: { loadAtStart, loadAtEnd } }, null, 2)}\n`,
  );
  console.log(`wrote ${file}`);
}

await main();
