/**
 * The inbox owns the way back in: committed commands read from JetStream with durable
 * consumers and delivered to the agent once each (push or pull), with ack discipline, dedupe
 * and dead letters. It sees ports only (core/inbox.ts); NATS, SQLite and HTTP are adapters.
 */
export { InboxService, type InboxServiceOptions, type InboxSettings, type InboxVerification } from './inbox-service.js';
export { createInboxMetrics, type InboxMetrics } from './metrics.js';
export type { PulledCommand } from './pull-deliveries.js';
