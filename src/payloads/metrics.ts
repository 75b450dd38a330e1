/**
 * Metrics of payloads stored by reference.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** Payload metrics. */
export interface PayloadMetrics {
  /** Payloads stored in the outbox file by reference at accept time. */
  stored: Counter;
  /**
   * Objects ensured before a command's publish, by result: `uploaded`, `present` (already there
   * with the same digest), `missing` (no object and no local copy: retried), `conflict` (another
   * digest under the name: the row goes dead), `failed` (NATS error: retried).
   */
  ensured: Counter<'result'>;
  /** Upload time of one object. */
  uploadSeconds: Histogram;
}

/** Registers the payload metrics on `register`. */
export function createPayloadMetrics(register: Registry): PayloadMetrics {
  const registers = [register];
  return {
    stored: new Counter({
      name: 'net_sync_payload_stored_total',
      help: 'Payloads stored in the outbox file by reference',
      registers,
    }),
    ensured: new Counter({
      name: 'net_sync_payload_objects_total',
      help: 'Payload objects checked before a command publish, by result',
      labelNames: ['result'],
      registers,
    }),
    uploadSeconds: new Histogram({
      name: 'net_sync_payload_upload_seconds',
      help: 'Time to upload one payload object',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
}
