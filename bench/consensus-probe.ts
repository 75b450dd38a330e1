/**
 * Loaded into each sidecar of `npm run bench:consensus` with `node --import` (never by the
 * sidecar itself): records, into `$BENCH_PROBE_DIR/probe-<pid>.jsonl`,
 * - every intent hop the sidecar publishes (`src/observability/intent-hops.ts`),
 * - event-loop stalls: a 5 ms interval timer that fires late by more than 10 ms marks the loop
 *   blocked (or starved of CPU) for that long, with its end time,
 * - every GC pause (`PerformanceObserver('gc')`),
 * - every SQLite write transaction (better-sqlite3 `transaction().immediate`, the form every
 *   outbox write uses): its duration and its COMMIT's (the WAL write and, at
 *   `synchronous=FULL`, the fsync).
 * Records are buffered and appended asynchronously every 500 ms (and at exit).
 */
import { subscribe } from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { INTENT_HOP_CHANNEL, type IntentHop } from '../src/observability/intent-hops.js';

const dir = process.env['BENCH_PROBE_DIR'];
if (dir !== undefined && dir !== '') {
  const file = join(dir, `probe-${process.pid}.jsonl`);
  let lines: string[] = [];
  const now = (): number => performance.timeOrigin + performance.now();
  const put = (rec: unknown): void => {
    lines.push(JSON.stringify(rec));
  };

  subscribe(INTENT_HOP_CHANNEL, (m) => {
    const h = m as IntentHop;
    put({ k: 'hop', id: h.id, hop: h.hop, at: h.atMs });
  });

  // Stalls: the loop should run this every 5 ms; lateness past 10 ms is a stall that long.
  const TICK_MS = 5;
  let last = now();
  setInterval(() => {
    const t = now();
    const late = t - last - TICK_MS;
    if (late > 10) put({ k: 'stall', at: t, ms: late });
    last = t;
  }, TICK_MS).unref();

  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      put({ k: 'gc', at: performance.timeOrigin + e.startTime + e.duration, ms: e.duration, kind });
    }
  }).observe({ entryTypes: ['gc'] });

  // Every write transaction's duration (`.immediate()`), and of its COMMIT (WAL write and fsync).
  type Fn = (...a: unknown[]) => unknown;
  const proto = Database.prototype as unknown as { transaction: (fn: Fn) => Fn & Record<string, Fn> };
  const original = proto.transaction;
  proto.transaction = function (this: unknown, fn: Fn) {
    let bodyEnd = 0;
    const tx = original.call(this, function (this: unknown, ...a: unknown[]) {
      const out = fn.apply(this, a);
      bodyEnd = now();
      return out;
    });
    const wrapped = function (this: unknown, ...a: unknown[]) {
      return tx.apply(this, a);
    } as Fn & Record<string, Fn>;
    for (const k of ['default', 'deferred', 'exclusive']) wrapped[k] = tx[k]!;
    wrapped['immediate'] = function (this: unknown, ...a: unknown[]) {
      const t0 = now();
      try {
        return tx['immediate']!.apply(this, a);
      } finally {
        const t1 = now();
        put({ k: 'tx', at: t1, ms: t1 - t0, commitMs: bodyEnd > t0 ? t1 - bodyEnd : 0 });
      }
    };
    return wrapped;
  };

  const flush = (): void => {
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    lines = [];
    void appendFile(file, text).catch(() => undefined);
  };
  setInterval(flush, 500).unref();
  process.on('exit', () => {
    if (lines.length > 0) appendFileSync(file, `${lines.join('\n')}\n`);
  });
}
