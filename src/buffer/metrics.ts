/**
 * Prometheus metrics of the SQLite outbox. Row counts by state are exported by the service
 * from `Outbox.counts()`, not here.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** The outbox's metrics. */
export interface BufferMetrics {
  /** Rows stored by `append` (duplicates excluded), by `kind` (`command` | `telemetry`). */
  readonly appendRowsTotal: Counter<'kind'>;
  /** Rows written per group-commit transaction. */
  readonly groupCommitRows: Histogram;
  /** Duration of one group-commit transaction, fsync included. */
  readonly groupCommitSeconds: Histogram;
  /** Telemetry rows deleted because the buffered telemetry exceeded `telemetryCap`. */
  readonly telemetryDroppedTotal: Counter;
}

/** Creates and registers the outbox metrics on `register`. Call once per registry. */
export function createBufferMetrics(register: Registry): BufferMetrics {
  const registers = [register];
  return {
    appendRowsTotal: new Counter({
      name: 'net_sync_outbox_append_rows_total',
      help: 'Rows durably appended to the outbox (duplicates excluded).',
      labelNames: ['kind'],
      registers,
    }),
    groupCommitRows: new Histogram({
      name: 'net_sync_outbox_group_commit_rows',
      help: 'Rows written per group-commit transaction.',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000],
      registers,
    }),
    groupCommitSeconds: new Histogram({
      name: 'net_sync_outbox_group_commit_seconds',
      help: 'Duration of one group-commit transaction, fsync included.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    telemetryDroppedTotal: new Counter({
      name: 'net_sync_outbox_telemetry_dropped_total',
      help: 'Oldest buffered telemetry rows deleted to stay under the telemetry cap.',
      registers,
    }),
  };
}
