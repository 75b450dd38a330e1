/**
 * Gauges read from the outbox at scrape time: rows by state and kind, and the age of the
 * oldest row not yet committed.
 */
import { Gauge, type Registry } from 'prom-client';
import { INTENT_STATES } from '../core/intent.js';
import type { Clock, Outbox } from '../core/ports.js';

/** Registers `net_sync_outbox_rows{state,kind}` and `net_sync_outbox_oldest_pending_age_seconds`. */
export function registerOutboxGauges(register: Registry, outbox: Outbox, clock: Clock): void {
  new Gauge({
    name: 'net_sync_outbox_rows',
    help: 'Outbox rows by state and kind',
    labelNames: ['state', 'kind'],
    registers: [register],
    collect() {
      for (const kind of ['command', 'telemetry'] as const) {
        const counts = outbox.counts(kind);
        for (const state of INTENT_STATES) this.set({ state, kind }, counts[state]);
      }
    },
  });
  new Gauge({
    name: 'net_sync_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest row not yet committed (0 when none)',
    registers: [register],
    collect() {
      const oldest = outbox.oldestPendingCreatedAtMs();
      this.set(oldest === null ? 0 : Math.max(0, clock.now() - oldest) / 1000);
    },
  });
}
