/**
 * Federation's metrics (docs/federation.md). `result` is bounded: `committed` now; `acked` and
 * `rejected` once receipts are read back. `partner` is bounded by the configured partners.
 */
import { Counter, type Registry } from 'prom-client';

/** The counters the federation use case updates. */
export interface FederationMetrics {
  /** Events by partner and result (`committed`, later `acked`, `rejected`). */
  events: Counter<'partner' | 'result'>;
}

/** Registers federation's metrics on `register`. */
export function createFederationMetrics(register: Registry): FederationMetrics {
  return {
    events: new Counter({
      name: 'net_sync_federation_events_total',
      help: 'Federation events sent, by partner and result (committed; acked and rejected with receipts)',
      labelNames: ['partner', 'result'],
      registers: [register],
    }),
  };
}
