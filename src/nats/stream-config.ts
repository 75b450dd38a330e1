/**
 * Pure conversions between our StreamSpec (ms, bytes, lower-case enums) and the nats.js
 * StreamConfig the JetStream API speaks (nanoseconds, server enums), plus the normalisation the
 * server applies, so that `streams apply` is idempotent.
 */
import { DiscardPolicy, nanos, RetentionPolicy, StorageType, type StreamConfig } from 'nats';
import { NetSyncError } from '../core/errors.js';
import type { StreamSource, StreamSpec } from '../core/stream-spec.js';

/** Fields nats-server 2.9 cannot change on an existing stream. */
export const IMMUTABLE_STREAM_FIELDS: ReadonlyArray<keyof StreamSpec> = ['storage', 'retention'];

const RETENTION: Record<StreamSpec['retention'], RetentionPolicy> = {
  limits: RetentionPolicy.Limits,
  workqueue: RetentionPolicy.Workqueue,
  interest: RetentionPolicy.Interest,
};
const STORAGE: Record<StreamSpec['storage'], StorageType> = { file: StorageType.File, memory: StorageType.Memory };
const DISCARD: Record<StreamSpec['discard'], DiscardPolicy> = { old: DiscardPolicy.Old, new: DiscardPolicy.New };

/**
 * The spec as the server will store it: nats-server lowers the duplicate window to max age
 * when max age is shorter (and non-zero).
 */
export function effectiveSpec(spec: StreamSpec): StreamSpec {
  if (spec.maxAge > 0 && spec.duplicateWindow > spec.maxAge) return { ...spec, duplicateWindow: spec.maxAge };
  return spec;
}

/** Our spec → the fields of a JetStream StreamConfig we own (others keep server defaults). */
export function toStreamConfig(spec: StreamSpec): Partial<StreamConfig> & { name: string } {
  const s = effectiveSpec(spec);
  return {
    name: s.name,
    subjects: [...s.subjects],
    retention: RETENTION[s.retention],
    storage: STORAGE[s.storage],
    max_age: nanos(s.maxAge),
    max_bytes: s.maxBytes,
    max_msgs: s.maxMsgs,
    max_msgs_per_subject: s.maxMsgsPerSubject,
    max_msg_size: s.maxMsgSize,
    duplicate_window: nanos(s.duplicateWindow),
    num_replicas: s.replicas,
    discard: DISCARD[s.discard],
    ...(s.sources === undefined ? {} : { sources: s.sources.map(toSource) }),
  };
}

// `domain` goes to the server as the API prefix nats.js would make of it (`$JS.<domain>.API`).
function toSource(s: StreamSource): NonNullable<StreamConfig['sources']>[number] {
  const api = s.domain !== undefined ? `$JS.${s.domain}.API` : s.external?.api;
  return {
    name: s.name,
    ...(s.filterSubject === undefined ? {} : { filter_subject: s.filterSubject }),
    ...(api === undefined ? {} : { external: { api, deliver: s.external?.deliver ?? '' } }),
  };
}

function fromSource(s: NonNullable<StreamConfig['sources']>[number]): StreamSource {
  const api = s.external?.api ?? '';
  const deliver = s.external?.deliver ?? '';
  return {
    name: s.name,
    ...(s.filter_subject === undefined || s.filter_subject === '' ? {} : { filterSubject: s.filter_subject }),
    ...(api === '' ? {} : { external: { api, ...(deliver === '' ? {} : { deliver }) } }),
  };
}

/** A server StreamConfig → our spec. Throws NATS_UNKNOWN on an enum value this version does not know. */
export function fromStreamConfig(cfg: StreamConfig): StreamSpec {
  return {
    name: cfg.name,
    subjects: [...(cfg.subjects ?? [])],
    retention: reverse(RETENTION, cfg.retention, 'retention'),
    storage: reverse(STORAGE, cfg.storage, 'storage'),
    maxAge: nanosToMs(cfg.max_age),
    maxBytes: cfg.max_bytes,
    maxMsgs: cfg.max_msgs,
    maxMsgsPerSubject: cfg.max_msgs_per_subject ?? -1,
    maxMsgSize: cfg.max_msg_size ?? -1,
    duplicateWindow: nanosToMs(cfg.duplicate_window ?? 0),
    // The spec speaks 1 or 3; report other counts as they are so drift shows them.
    replicas: (cfg.num_replicas || 1) as StreamSpec['replicas'],
    discard: reverse(DISCARD, cfg.discard ?? DiscardPolicy.Old, 'discard'),
    ...(cfg.sources === undefined || cfg.sources.length === 0 ? {} : { sources: cfg.sources.map(fromSource) }),
  };
}

function nanosToMs(ns: number): number {
  return Math.round(ns / 1e6);
}

function reverse<K extends string, V extends string>(table: Record<K, V>, value: V, field: string): K {
  for (const [k, v] of Object.entries(table) as Array<[K, V]>) if (v === value) return k;
  throw new NetSyncError('NATS_UNKNOWN', `unsupported stream ${field}: ${String(value)}`, { field });
}
