/**
 * Which topics a started node's gossipsub accepts, relays and scores beyond the fleet topic: a
 * home shard's topic after a re-plan, and every shard topic under the fleet topic. Apart from
 * libp2p-factory.ts so that mesh-node.ts reaches these without loading libp2p.
 */
import type { GossipSub } from '@libp2p/gossipsub';
import { MESH_TOPIC_SCORE } from './score-params.js';

// Runtime fields of gossipsub that its exported type omits (as getMeshPeers, docs/libp2p.md).
interface GossipSubTopicInternals {
  allowedTopics: Set<string> | null;
  score: { params: { topics: Record<string, unknown> } };
}

/**
 * The topics gossipsub tracks: the fleet topic and every shard topic under it, whatever this
 * node's own plan. A member that re-plans first announces its new shard's topic before its mates
 * have joined it, and gossipsub drops (and never asks again for) a subscription to a topic outside
 * its allowed set. Per-peer subscription memory stays bounded by gossipsub's per-peer budget.
 */
class FleetTopics extends Set<string> {
  constructor(private readonly base: string) {
    super([base]);
  }

  // Plus topics added one by one (the telemetry topic, when this node joins it).
  override has(topic: string): boolean {
    return topic === this.base || topic.startsWith(`${this.base}/shard-`) || super.has(topic);
  }
}

/**
 * Lets a started node's gossipsub accept, relay and score `topic` as it does the fleet topic (a
 * home shard's topic after a re-plan). Idempotent.
 */
export function allowTopic(pubsub: GossipSub, topic: string): void {
  const internals = pubsub as unknown as GossipSubTopicInternals;
  internals.allowedTopics?.add(topic);
  internals.score.params.topics[topic] ??= { ...MESH_TOPIC_SCORE };
}

/** Makes `pubsub` track subscriptions to every shard topic under `base` (see {@link FleetTopics}). */
export function allowShardTopics(pubsub: GossipSub, base: string): void {
  (pubsub as unknown as GossipSubTopicInternals).allowedTopics = new FleetTopics(base);
}
