/**
 * The fleet owns who is a member and which home shard endorses whose intents (docs/fleet.md):
 * the member list and its plan of shards (reloaded on SIGHUP), and each node's view of its own
 * shard's health (members connected against the quorum), for readiness, status and metrics. The
 * rules are pure (core/shards.ts); the mesh and the consensus driver see the core `Membership` port.
 */
export { FleetMembership, type FleetMembershipOptions, type Replan } from './fleet-membership.js';
export { meshNeeded, ShardHealth, type ShardHealthOptions, type ShardStatus } from './shard-health.js';
export { createFleetMetrics } from './metrics.js';
