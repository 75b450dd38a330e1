/**
 * Metrics of the commit path.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** Commit-path metrics. */
export interface CommitMetrics {
  /** Rows by publish outcome: committed, duplicate, dead, retry, unknown. */
  commits: Counter<'result'>;
  /** Unknown outcomes resolved: found or missing by a stream read, or resent within the duplicate window. */
  lookups: Counter<'result'>;
  /** From acceptance to PubAck, by row kind (`command`, `telemetry`). */
  commitLatency: Histogram<'kind'>;
  /** HTTP accept to durable (group commit). */
  acceptLatency: Histogram;
  /** Intents accepted, by kind. */
  accepted: Counter<'kind'>;
  /** Settled rows deleted by the retention. */
  pruned: Counter;
}

/** Registers the commit-path metrics on `register`. */
export function createCommitMetrics(register: Registry): CommitMetrics {
  const registers = [register];
  return {
    commits: new Counter({
      name: 'net_sync_commit_rows_total',
      help: 'Outbox rows by publish outcome',
      labelNames: ['result'],
      registers,
    }),
    lookups: new Counter({
      name: 'net_sync_commit_lookups_total',
      help: 'Unknown-outcome rows resolved: found or missing by a stream scan, or resent within the duplicate window',
      labelNames: ['result'],
      registers,
    }),
    commitLatency: new Histogram({
      name: 'net_sync_commit_latency_seconds',
      help: 'Time from acceptance to PubAck, by kind',
      labelNames: ['kind'],
      // 0.5 and 2 are the commit SLAs (commands, telemetry; docs/seeds.md): `status` reads them exactly.
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    acceptLatency: new Histogram({
      name: 'net_sync_accept_latency_seconds',
      help: 'Time to make an accepted intent durable',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    accepted: new Counter({
      name: 'net_sync_intents_accepted_total',
      help: 'Intents accepted',
      labelNames: ['kind'],
      registers,
    }),
    pruned: new Counter({
      name: 'net_sync_outbox_pruned_rows_total',
      help: 'Settled outbox rows deleted by buffer.retainSettledMs',
      registers,
    }),
  };
}
