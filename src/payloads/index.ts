/**
 * src/payloads owns payloads stored by reference (docs/payloads.md): at accept time a payload
 * above `payloads.inlineMaxBytes` is stored in the outbox file and replaced by a reference; at
 * commit time its object is put into the Object Store bucket before the command is published.
 * It sees ports only (core/payload-ref.ts); SQLite and NATS are adapters.
 */
export { createPayloadMetrics, type PayloadMetrics } from './metrics.js';
export { PayloadIntake, type PayloadIntakeOptions } from './payload-intake.js';
export { PayloadRefPublisher, type PayloadRefPublisherOptions } from './payload-ref-publisher.js';
export { type PayloadRefProblemRow, type PayloadRefReport, verifyPayloadRefs } from './verify-payload-refs.js';
export { PayloadUploader, type PayloadUploaderOptions } from './payload-uploader.js';
