/**
 * Operating metrics that span the parts: lag (per kind), endorsement latency, and the telemetry
 * reduction factor. The per-area metrics live beside their code (`src/<area>/metrics.ts`).
 *
 * The outbox's backlog, what the agent has handed us that the stream has not acknowledged yet
 * (the inbox's consumers report `net_sync_jetstream_consumer_lag`, seed 000's consumer lag):
 * - `net_sync_outbox_backlog_rows{kind}`: rows `pending-commit` or `in-flight` (committable, not
 *   yet PubAck'd; rows still waiting for quorum are `proposed` in `net_sync_outbox_rows`);
 * - `net_sync_commit_lag_seconds{kind}`: age of the oldest row not yet committed (proposed
 *   included), the figure `net-sync status` judges against seed 000's SLAs (docs/seeds.md).
 */
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { RowKind } from '../core/intent.js';
import type { Clock, Outbox } from '../core/ports.js';

const KINDS: readonly RowKind[] = ['command', 'telemetry'];

/** Where the telemetry scout reports its reduction (points in, summaries out). */
export interface TelemetryReduction {
  /**
   * Adds `points` received and `summaries` published (cumulative over the process). The gauge
   * shows points per summary; 0 until a summary is published.
   */
  record(points: number, summaries: number): void;
}

/** The operating metrics. */
export interface OpsMetrics {
  /** Time from an intent's creation (on the proposer) to quorum held here (the row promoted). */
  endorsementLatency: Histogram;
  telemetryReduction: TelemetryReduction;
}

/** Registers the operating metrics; lag gauges read `outbox` at scrape time. */
export function createOpsMetrics(register: Registry, outbox: Outbox, clock: Clock): OpsMetrics {
  const registers = [register];
  new Gauge({
    name: 'net_sync_outbox_backlog_rows',
    help: 'Rows accepted and committable but not yet acknowledged by JetStream (pending-commit + in-flight), by kind',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const kind of KINDS) {
        const c = outbox.counts(kind);
        this.set({ kind }, c['pending-commit'] + c['in-flight']);
      }
    },
  });
  new Gauge({
    name: 'net_sync_commit_lag_seconds',
    help: 'Age of the oldest row not yet committed, by kind (0 when none); SLA: command < 0.5, telemetry < 2',
    labelNames: ['kind'],
    registers,
    collect() {
      const now = clock.now();
      for (const kind of KINDS) {
        const oldest = outbox.oldestPendingCreatedAtMs(kind);
        this.set({ kind }, oldest === null ? 0 : Math.max(0, now - oldest) / 1000);
      }
    },
  });
  const endorsementLatency = new Histogram({
    name: 'net_sync_endorsement_latency_seconds',
    help: 'Time from an intent creation on its proposer to quorum held on this node',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const reduction = new Gauge({
    name: 'net_sync_telemetry_reduction_factor',
    help: 'Telemetry points received per summary published by this scout (0 until one is published)',
    registers,
  });
  let points = 0;
  let summaries = 0;
  reduction.set(0);
  return {
    endorsementLatency,
    telemetryReduction: {
      record(p: number, s: number): void {
        points += Math.max(0, p);
        summaries += Math.max(0, s);
        reduction.set(summaries === 0 ? 0 : points / summaries);
      },
    },
  };
}

/**
 * `outbox` with `promote` timed: each promotion observes now − the row's creation time on
 * `histogram`. Every other method is the outbox's own.
 */
export function timeEndorsements<T extends Outbox>(outbox: T, histogram: Histogram, clock: Clock): T {
  const promote: Outbox['promote'] = (correlationId, body, headers, atMs, target) => {
    const moved = outbox.promote(correlationId, body, headers, atMs, target);
    if (moved) {
      const row = outbox.get(correlationId);
      if (row !== undefined) histogram.observe(Math.max(0, clock.now() - row.createdAtMs) / 1000);
    }
    return moved;
  };
  const promoteMany: Outbox['promoteMany'] = (items, atMs, opts) => {
    const moved = outbox.promoteMany(items, atMs, opts);
    for (const id of moved) {
      const row = outbox.get(id);
      if (row !== undefined) histogram.observe(Math.max(0, clock.now() - row.createdAtMs) / 1000);
    }
    return moved;
  };
  return new Proxy(outbox, {
    get(target, prop) {
      if (prop === 'promote') return promote;
      if (prop === 'promoteMany') return promoteMany;
      const value = Reflect.get(target, prop, target) as unknown;
      // Bound to the real outbox: its private fields are not reachable through the proxy.
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
