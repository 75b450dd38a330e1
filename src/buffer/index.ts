/**
 * src/buffer owns the SQLite outbox: the one file where accepted intents and telemetry
 * summaries wait for JetStream. Schema and migrations, group-committed appends, guarded
 * state transitions, the telemetry cap and the publisher lease. It implements the `Outbox`
 * port of src/core and imports nothing from the other adapters.
 */
export { SqliteOutbox, type SqliteOutboxOptions } from './sqlite-outbox.js';
export { createBufferMetrics, type BufferMetrics } from './metrics.js';
export { migrate, MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';
export type { SynchronousLevel } from './open-database.js';
export { SqliteAppliedCommands } from './sqlite-applied-commands.js';
export { SqliteAppliedAcks, SqliteReceivedEvents } from './sqlite-federation-ledger.js';
export { SqlitePayloadStore } from './sqlite-payload-store.js';
