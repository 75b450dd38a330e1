/**
 * Metrics of the NATS adapter: the connection and JetStream publishes.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Bounded values of the `result` label of `net_sync_jetstream_publish_total`. */
export type PublishResultLabel = 'acked' | 'duplicate' | 'retryable' | 'permanent';

/** The NATS adapter's metrics. */
export interface NatsMetrics {
  /** Time from `publish()` to PubAck or failure, seconds. */
  publishDuration: Histogram;
  /** Publishes by outcome. */
  publishTotal: Counter<'result'>;
  /** 1 while connected to a server, else 0. */
  connected: Gauge;
  /** Reconnections after a disconnect (not the first connect). */
  reconnects: Counter;
  /** Connections ended on purpose so that nothing sent on them lands later, by reason. */
  fences: Counter<'reason'>;
}

/** Registers the NATS adapter's metrics on `register`. */
export function createNatsMetrics(register: Registry): NatsMetrics {
  return {
    publishDuration: new Histogram({
      name: 'net_sync_jetstream_publish_duration_seconds',
      help: 'Time from publish to PubAck or failure',
      // A loopback PubAck is ~0.2 ms; the tail reaches the 5 s publish timeout.
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [register],
    }),
    publishTotal: new Counter({
      name: 'net_sync_jetstream_publish_total',
      help: 'JetStream publishes by result (acked, duplicate, retryable, permanent)',
      labelNames: ['result'],
      registers: [register],
    }),
    connected: new Gauge({
      name: 'net_sync_nats_connected',
      help: '1 while connected to a NATS server',
      registers: [register],
    }),
    reconnects: new Counter({
      name: 'net_sync_nats_reconnects_total',
      help: 'Reconnections to NATS after a disconnect',
      registers: [register],
    }),
    fences: new Counter({
      name: 'net_sync_nats_fences_total',
      help: 'NATS connections reset so that nothing sent on them lands later (pubAck-timeout, unresponsive)',
      labelNames: ['reason'],
      registers: [register],
    }),
  };
}
