/**
 * src/nats is the production NATS adapter: the one connection (auth, TLS, reconnect, state events),
 * publishing to JetStream with Nats-Msg-Id and classified outcomes, reading streams back, streams as
 * code (plan/apply/verify, consumers included), the inbox's consumer and the adapter's metrics. The
 * nats-server launcher used by tests, chaos scenarios and the demo lives in src/devkit.
 */
export { ConsumerManager, type ConsumerApplyResult, type ConsumerManagerOptions } from './consumer-manager.js';
export { classifyNoResponders, classifyPublishError, type PublishFailure } from './classify-publish-error.js';
export { JetStreamPublisher, type JetStreamPublisherOptions } from './jetstream-publisher.js';
export { JetStreamReader, type JetStreamReaderOptions, type ScannedMessage } from './jetstream-reader.js';
export { createNatsMetrics, type NatsMetrics, type PublishResultLabel } from './metrics.js';
export { NatsConnector, type NatsConnectorOptions } from './nats-connector.js';
export { effectiveSpec, fromStreamConfig, IMMUTABLE_STREAM_FIELDS, toStreamConfig } from './stream-config.js';
export { StreamManager, type StreamApplyResult, type StreamManagerOptions } from './stream-manager.js';
export { isSubjectSubset, subjectMatches } from './subject-filter.js';
export { inboxConsumerName, JetStreamInboxSource, type InboxConsumerOptions } from './inbox-consumer.js';
export {
  JetStreamObjectStore,
  objectStoreStream,
  type BucketSpec,
  type JetStreamObjectStoreOptions,
} from './jetstream-object-store.js';
export { resolvePayloadRef, type ResolvePayloadOptions } from './resolve-payload-ref.js';
