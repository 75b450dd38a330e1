/**
 * The `Net-Sync-Schema` header: the JSON Schema a message's body follows, named by its file under
 * `schemas/` in the net-sync package (`<body>.v<schemaVersion>.json`). Names only; the schemas
 * themselves are in `body-schemas.ts` (docs/contracts.md#body-schemas).
 */

/** The schema file of each body net-sync publishes. The version is the body's `schemaVersion`. */
export const SCHEMA_FILE = {
  /** A committed command (`<prefix>.command.*`). */
  command: 'command.v1.json',
  /** A telemetry summary (`<prefix>.telemetry.*`). */
  telemetrySummary: 'telemetry-summary.v1.json',
  /** A peer health report (`<prefix>.telemetry.libp2p.peer.health`). */
  peerHealth: 'peer-health.v1.json',
  /** A pipeline lag report (`<prefix>.observability.pipeline.lag`). */
  pipelineLag: 'pipeline-lag.v1.json',
  /** The outbox's notice of a dead row (`<prefix>.deadletter.<kind>`). */
  deadLetter: 'dead-letter.v1.json',
  /** The inbox's notice of a command the agent will never apply (`<prefix>.deadletter.command`). */
  deliveryDeadLetter: 'delivery-dead-letter.v1.json',
  /** The body POSTed to the agent by the inbox in push mode (HTTP, not NATS). */
  inboxCommand: 'inbox-command.v1.json',
  /** A federation event: the DSSE envelope on `<prefix>.federation.outbound.events.<partner>`. */
  federationEvent: 'federation-event.v1.json',
  /** The payload inside a federation event's envelope, once base64-decoded. */
  federationEventPayload: 'federation-event-payload.v1.json',
  /** A federation receipt: the DSSE envelope a receiver sends back. */
  federationAck: 'federation-ack.v1.json',
  /** The payload inside a receipt's envelope, once base64-decoded. */
  federationAckPayload: 'federation-ack-payload.v1.json',
  /** A command payload stored in an Object Store: the `payloadRef` of a command (and an inbox push). */
  payloadRef: 'payload-ref.v1.json',
} as const;

/** One of {@link SCHEMA_FILE}'s file names. */
export type SchemaFile = (typeof SCHEMA_FILE)[keyof typeof SCHEMA_FILE];
