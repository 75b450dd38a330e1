/**
 * Metrics of the telemetry use cases: points in at the origin, gossip batches, scout ingest,
 * summaries by outcome, stragglers, gossip gaps, and window lag (close to PubAck).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Bounded values of the `outcome` label of `net_sync_telemetry_summaries_total`. */
export type SummaryOutcome = 'published' | 'taken-over' | 'backup' | 'handed-off' | 'incomplete';

/** Telemetry metrics. */
export interface TelemetryMetrics {
  /** Points accepted from the local agent. */
  accepted: Counter;
  /** Points refused because the origin queue was full. */
  refused: Counter;
  /** Points that reached no scout (no mesh peer and no local scout): counted, never silent. */
  lost: Counter;
  /** Telemetry gossip messages sent. */
  gossipMessages: Counter;
  /** Points a scout ingested (own and peers'). */
  ingested: Counter;
  /** Batches this scout gave up waiting for (missing past `telemetry.gapGraceMs`). */
  gaps: Counter;
  /**
   * Points that reached this scout after their window was decided, or in a gap it gave up on (not summarised here, or
   * as stragglers for origins without watermarks).
   */
  stragglers: Counter;
  /**
   * Closed windows by outcome: published (owner), taken-over (published after the owner left),
   * backup (a whole copy published as well because the owner's heartbeats faltered since the
   * window began), handed-off (owner lives), incomplete (this scout missed batches of it).
   */
  summaries: Counter<'outcome'>;
  /** Window close to PubAck, for summaries this scout published. */
  windowLag: Histogram;
  /** Windows held in memory (open, held for handoff, or done). */
  windows: Gauge;
  /** Live scouts as this node sees them. */
  liveScouts: Gauge;
}

/** Registers the telemetry metrics on `register`. */
export function createTelemetryMetrics(register: Registry): TelemetryMetrics {
  const registers = [register];
  const m: TelemetryMetrics = {
    accepted: new Counter({
      name: 'net_sync_telemetry_points_accepted_total',
      help: 'Telemetry points accepted from the local agent',
      registers,
    }),
    refused: new Counter({
      name: 'net_sync_telemetry_points_refused_total',
      help: 'Telemetry points refused (origin queue full)',
      registers,
    }),
    lost: new Counter({
      name: 'net_sync_telemetry_points_unrouted_total',
      help: 'Telemetry points that reached no scout',
      registers,
    }),
    gossipMessages: new Counter({
      name: 'net_sync_telemetry_gossip_messages_total',
      help: 'Telemetry gossip batches sent',
      registers,
    }),
    ingested: new Counter({
      name: 'net_sync_telemetry_points_ingested_total',
      help: 'Telemetry points ingested by this scout',
      registers,
    }),
    gaps: new Counter({
      name: 'net_sync_telemetry_gossip_gaps_total',
      help: 'Telemetry batches a scout gave up waiting for (missing past telemetry.gapGraceMs)',
      registers,
    }),
    stragglers: new Counter({
      name: 'net_sync_telemetry_straggler_points_total',
      help: 'Points that reached a scout after their window was decided here, or inside a gap it gave up on',
      registers,
    }),
    summaries: new Counter({
      name: 'net_sync_telemetry_summaries_total',
      help: 'Closed windows by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    windowLag: new Histogram({
      name: 'net_sync_telemetry_window_lag_seconds',
      help: 'Window close to PubAck of its summary',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    windows: new Gauge({ name: 'net_sync_telemetry_windows', help: 'Windows held by this scout', registers }),
    liveScouts: new Gauge({
      name: 'net_sync_telemetry_live_scouts',
      help: 'Live scouts as this node sees them',
      registers,
    }),
  };
  for (const outcome of ['published', 'taken-over', 'backup', 'handed-off', 'incomplete'] as const)
    m.summaries.inc({ outcome }, 0);
  return m;
}
