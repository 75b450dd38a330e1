/**
 * Metrics of the mesh adapter: gossip in and out, refusals by reason, peers, redials.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { ENVELOPE_REFUSAL_REASONS } from '../core/envelope-validation.js';
import { ENVELOPE_KINDS } from '../core/envelope.js';

/** Bounded values of the `reason` label of `net_sync_gossip_publish_failures_total`. */
export type PublishFailureLabel = 'oversized' | 'no-peers' | 'not-started' | 'other';

/** The mesh adapter's metrics. */
export interface MeshMetrics {
  /** Envelopes published (`out`) and accepted from peers (`in`), by kind. */
  messages: Counter<'direction' | 'kind'>;
  /** Inbound envelopes refused by the validator, by reason (both reject and ignore verdicts). */
  rejected: Counter<'reason'>;
  /** Publishes that failed, by reason. */
  publishFailures: Counter<'reason'>;
  /** Envelope listeners that threw. */
  listenerErrors: Counter;
  /** Connected peers. */
  peers: Gauge;
  /** Peers in our gossipsub mesh for the topic. */
  meshPeers: Gauge;
  /** Dials of configured static peers by outcome (`connected`, `failed`). */
  redials: Counter<'outcome'>;
  /** Half-open connections aborted because the peer answered on a newer one. */
  staleConnections: Counter;
  /** Connected shard mates reconnected because gossipsub had lost their home-topic subscription. */
  subscriptionRepairs: Counter;
}

/** Registers the mesh adapter's metrics on `register`. Label values are pre-initialised to 0. */
export function createMeshMetrics(register: Registry): MeshMetrics {
  const metrics: MeshMetrics = {
    messages: new Counter({
      name: 'net_sync_gossip_messages_total',
      help: 'Gossip envelopes published (out) and accepted from peers (in), by kind',
      labelNames: ['direction', 'kind'],
      registers: [register],
    }),
    rejected: new Counter({
      name: 'net_sync_gossip_rejected_total',
      help: 'Inbound gossip envelopes refused by the validator, by reason',
      labelNames: ['reason'],
      registers: [register],
    }),
    publishFailures: new Counter({
      name: 'net_sync_gossip_publish_failures_total',
      help: 'Gossip publishes that failed, by reason (oversized, no-peers, not-started, other)',
      labelNames: ['reason'],
      registers: [register],
    }),
    listenerErrors: new Counter({
      name: 'net_sync_gossip_listener_errors_total',
      help: 'Envelope listeners that threw',
      registers: [register],
    }),
    peers: new Gauge({ name: 'net_sync_mesh_peers', help: 'Connected libp2p peers', registers: [register] }),
    meshPeers: new Gauge({
      name: 'net_sync_mesh_topic_mesh_peers',
      help: 'Peers in the gossipsub mesh of the net-sync topic',
      registers: [register],
    }),
    redials: new Counter({
      name: 'net_sync_mesh_redials_total',
      help: 'Dials of configured static peers by outcome (connected, failed)',
      labelNames: ['outcome'],
      registers: [register],
    }),
    staleConnections: new Counter({
      name: 'net_sync_mesh_stale_connections_total',
      help: 'Half-open connections aborted because the peer came back on a newer connection',
      registers: [register],
    }),
    subscriptionRepairs: new Counter({
      name: 'net_sync_mesh_subscription_repairs_total',
      help: 'Connected shard mates reconnected because gossipsub had lost their home-topic subscription',
      registers: [register],
    }),
  };
  for (const kind of ENVELOPE_KINDS) {
    metrics.messages.inc({ direction: 'in', kind }, 0);
    metrics.messages.inc({ direction: 'out', kind }, 0);
  }
  for (const reason of ENVELOPE_REFUSAL_REASONS) metrics.rejected.inc({ reason }, 0);
  return metrics;
}
