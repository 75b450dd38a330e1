/**
 * Telemetry owns what is summarised rather than committed one by one: the origin's emitter, the
 * scout that writes burst-window summaries, and peer health with pipeline lag. All of it becomes
 * outbox rows of kind `telemetry`; docs/telemetry.md explains the windows and counts.
 */
export { createTelemetryMetrics, type TelemetryMetrics } from './metrics.js';
export { type MeshProbe, PeerHealthReporter, type PeerHealthReporterOptions } from './peer-health.js';
export { TelemetryEmitter, type TelemetryEmitterOptions } from './telemetry-emitter.js';
export { TelemetryScout, type TelemetryScoutOptions } from './telemetry-scout.js';
