/**
 * Metrics of the inbox.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { InboxConsumerLag } from '../core/inbox.js';

/** Inbox metrics. */
export interface InboxMetrics {
  /** Deliveries by result: ack, retry, drop, dedup, unverified, expired. */
  deliveries: Counter<'result'>;
  /** From the stream storing a command to the agent's SUCCESS. */
  latency: Histogram;
}

/**
 * Registers the inbox metrics on `register`; `lag` is read at each scrape for
 * `net_sync_jetstream_consumer_lag` (num_pending + num_ack_pending per consumer).
 */
export function createInboxMetrics(register: Registry, lag: () => Promise<InboxConsumerLag[]>): InboxMetrics {
  const registers = [register];
  new Gauge({
    name: 'net_sync_jetstream_consumer_lag',
    help: 'Commands stored but not yet acknowledged, per inbox consumer (num_pending + num_ack_pending)',
    labelNames: ['consumer', 'stream'],
    registers,
    async collect() {
      this.reset();
      for (const l of await lag().catch(() => [])) {
        this.set({ consumer: l.consumer, stream: l.stream }, l.pending + l.ackPending);
      }
    },
  });
  return {
    deliveries: new Counter({
      name: 'net_sync_inbox_deliveries_total',
      help: 'Inbox deliveries by result',
      labelNames: ['result'],
      registers,
    }),
    latency: new Histogram({
      name: 'net_sync_inbox_delivery_latency_seconds',
      help: 'From the stream storing a command to the agent acknowledging it',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
}
