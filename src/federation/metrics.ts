/**
 * Federation's metrics (docs/federation.md). Labels are bounded: `partner` by the configured
 * partners, `result` and `reason` by the fixed lists of the contract.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The counters the federation use cases update. */
export interface FederationMetrics {
  /** Events sent, by partner and result (`committed`, `acked`, `rejected`). */
  events: Counter<'partner' | 'result'>;
  /**
   * Receipts read back, by partner and result (`applied`, `invalid`, `unknown-event`, `digest-mismatch`, `duplicate`).
   */
  acks: Counter<'partner' | 'result'>;
  /** Messages received, by partner, result (`accepted`, `refused`, `duplicate`) and reason. */
  inbound: Counter<'partner' | 'result' | 'reason'>;
  /** Pushes of received events to the agent, by partner and result (`delivered`, `retry`, `dropped`, `dead`). */
  deliveries: Counter<'partner' | 'result'>;
  /** Commit of an event to its receipt applied, seconds. */
  ackLatency: Histogram<'partner'>;
}

/** Registers federation's metrics on `register`. */
export function createFederationMetrics(register: Registry): FederationMetrics {
  return {
    events: new Counter({
      name: 'net_sync_federation_events_total',
      help: 'Federation events sent, by partner and result (committed, acked, rejected)',
      labelNames: ['partner', 'result'],
      registers: [register],
    }),
    acks: new Counter({
      name: 'net_sync_federation_acks_total',
      help: 'Receipts read from partners, by result (applied, invalid, unknown-event, digest-mismatch, duplicate)',
      labelNames: ['partner', 'result'],
      registers: [register],
    }),
    inbound: new Counter({
      name: 'net_sync_federation_inbound_total',
      help: 'Messages received from partners, by result (accepted, refused, duplicate) and reason',
      labelNames: ['partner', 'result', 'reason'],
      registers: [register],
    }),
    deliveries: new Counter({
      name: 'net_sync_federation_deliveries_total',
      help: 'Received events pushed to the agent, by result (delivered, retry, dropped, dead)',
      labelNames: ['partner', 'result'],
      registers: [register],
    }),
    ackLatency: new Histogram({
      name: 'net_sync_federation_ack_latency_seconds',
      help: 'Time from an event commit to its receipt applied, seconds',
      labelNames: ['partner'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [register],
    }),
  };
}

/**
 * Registers the ledger's gauges: `net_sync_federation_unacked{partner}` and
 * `net_sync_federation_oldest_unacked_seconds{partner}`, read at each scrape.
 */
export function registerFederationGauges(
  register: Registry,
  partners: readonly string[],
  waiting: (partner: string) => { unacked: number; oldestAgeMs: number },
): void {
  const unacked = new Gauge({
    name: 'net_sync_federation_unacked',
    help: 'Events committed to a partner without a receipt applied',
    labelNames: ['partner'],
    registers: [register],
    collect() {
      for (const p of partners) unacked.set({ partner: p }, waiting(p).unacked);
    },
  });
  const oldest = new Gauge({
    name: 'net_sync_federation_oldest_unacked_seconds',
    help: 'Age of the oldest event committed to a partner without a receipt, seconds (0 when none)',
    labelNames: ['partner'],
    registers: [register],
    collect() {
      for (const p of partners) {
        const w = waiting(p);
        oldest.set({ partner: p }, w.unacked === 0 ? 0 : w.oldestAgeMs / 1_000);
      }
    },
  });
}
