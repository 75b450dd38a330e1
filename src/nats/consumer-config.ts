/**
 * Pure conversions between our ConsumerSpec (ms, lower-case enums, a mode) and the nats.js
 * ConsumerConfig the JetStream API speaks (nanoseconds, server enums, a deliver subject or none),
 * with the server's normalisation on 2.9 (ack none keeps no ack wait), so that apply is idempotent.
 */
import { AckPolicy, type ConsumerConfig, DeliverPolicy, nanos } from 'nats';
import type { ConsumerSpec } from '../core/consumer-spec.js';
import { DEFAULT_ACK_WAIT_MS } from '../core/consumer-spec.js';
import { NetSyncError } from '../core/errors.js';

const DELIVER: Record<ConsumerSpec['deliverPolicy'], DeliverPolicy> = {
  all: DeliverPolicy.All,
  last: DeliverPolicy.Last,
  new: DeliverPolicy.New,
  'last-per-subject': DeliverPolicy.LastPerSubject,
};
const ACK: Record<ConsumerSpec['ackPolicy'], AckPolicy> = {
  explicit: AckPolicy.Explicit,
  all: AckPolicy.All,
  none: AckPolicy.None,
};

/** Our spec → the fields of a durable ConsumerConfig we own (others keep server defaults). */
export function toConsumerConfig(spec: ConsumerSpec): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: spec.name,
    deliver_policy: DELIVER[spec.deliverPolicy],
    ack_policy: ACK[spec.ackPolicy],
    ack_wait: nanos(spec.ackWait),
    max_deliver: spec.maxDeliver,
    max_ack_pending: spec.maxAckPending,
    ...(spec.deliverSubject === undefined ? {} : { deliver_subject: spec.deliverSubject }),
    ...(spec.filterSubject === undefined ? {} : { filter_subject: spec.filterSubject }),
    ...(spec.backoff.length === 0 ? {} : { backoff: spec.backoff.map((ms) => nanos(ms)) }),
  };
}

/**
 * The config to send for an update: the server's own config with ours laid over it, and the
 * optional fields we dropped removed (an absent key is what clears them on 2.9; an empty filter
 * subject would be sent as part of the request subject).
 */
export function updatedConsumerConfig(server: ConsumerConfig, spec: ConsumerSpec): ConsumerConfig {
  const out: ConsumerConfig = { ...server, ...toConsumerConfig(spec) };
  if (spec.filterSubject === undefined) delete out.filter_subject;
  if (spec.backoff.length === 0) delete out.backoff;
  return out;
}

/** A server ConsumerConfig → our spec. Throws NATS_UNKNOWN on an enum value this version does not know. */
export function fromConsumerConfig(cfg: ConsumerConfig): ConsumerSpec {
  return {
    name: cfg.durable_name ?? cfg.name ?? '',
    mode: cfg.deliver_subject ? 'push' : 'pull',
    ...(cfg.deliver_subject ? { deliverSubject: cfg.deliver_subject } : {}),
    ...(cfg.filter_subject ? { filterSubject: cfg.filter_subject } : {}),
    deliverPolicy: reverse(DELIVER, cfg.deliver_policy, 'deliverPolicy'),
    ackPolicy: reverse(ACK, cfg.ack_policy, 'ackPolicy'),
    ackWait: cfg.ack_wait === undefined ? DEFAULT_ACK_WAIT_MS : nanosToMs(cfg.ack_wait),
    maxDeliver: cfg.max_deliver === undefined || cfg.max_deliver === 0 ? -1 : cfg.max_deliver,
    maxAckPending: cfg.max_ack_pending ?? -1,
    backoff: (cfg.backoff ?? []).map(nanosToMs),
  };
}

function nanosToMs(ns: number): number {
  return Math.round(ns / 1e6);
}

function reverse<K extends string, V extends string>(table: Record<K, V>, value: V, field: string): K {
  for (const [k, v] of Object.entries(table) as Array<[K, V]>) if (v === value) return k;
  throw new NetSyncError('NATS_UNKNOWN', `unsupported consumer ${field}: ${String(value)}`, { field });
}
