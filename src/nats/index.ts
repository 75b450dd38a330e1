/**
 * src/nats owns everything NATS: the one connection (auth, TLS, reconnect, state events),
 * publishing to JetStream with Nats-Msg-Id and classified outcomes, reading streams back,
 * streams as code (plan/apply/verify), the adapter's metrics, and our nats-server launcher
 * (single server and 3-node cluster) used by tests, chaos scenarios and `net-sync demo`.
 */
export { classifyNoResponders, classifyPublishError, type PublishFailure } from './classify-publish-error.js';
export { JetStreamPublisher, type JetStreamPublisherOptions } from './jetstream-publisher.js';
export { JetStreamReader, type JetStreamReaderOptions, type ScannedMessage } from './jetstream-reader.js';
export { createNatsMetrics, type NatsMetrics, type PublishResultLabel } from './metrics.js';
export { startNatsCluster, type NatsCluster, type NatsClusterOptions } from './nats-cluster.js';
export { NatsConnector, type NatsConnectorOptions } from './nats-connector.js';
export {
  distinctFreePorts,
  freePort,
  NATS_SERVER_BINARY,
  NatsServerProcess,
  type NatsServerOptions,
} from './nats-server-process.js';
export { effectiveSpec, fromStreamConfig, IMMUTABLE_STREAM_FIELDS, toStreamConfig } from './stream-config.js';
export { StreamManager, type StreamApplyResult, type StreamManagerOptions } from './stream-manager.js';
export { isSubjectSubset, subjectMatches } from './subject-filter.js';
export { inboxConsumerName, JetStreamInboxSource, type InboxConsumerOptions } from './inbox-consumer.js';
