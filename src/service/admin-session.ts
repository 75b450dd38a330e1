/**
 * A short-lived NATS session for operator commands (`reconcile`, `streams`, `verify`): one
 * connection, the publisher, the reader and the stream and consumer managers, closed together.
 */
import type { Config } from '../config/schema.js';
import { retentionRefusal, specRetentionViews } from '../core/retention-hazard.js';
import { NetSyncError } from '../core/errors.js';
import { ConsumerManager, JetStreamPublisher, JetStreamReader, NatsConnector, StreamManager } from '../nats/index.js';
import type { Logger } from '../observability/logger.js';
import { redactUrl } from '../core/redact-url.js';

/** Connected parts for one operator command. */
export interface AdminSession {
  connector: NatsConnector;
  publisher: JetStreamPublisher;
  reader: JetStreamReader;
  streams: StreamManager;
  /** The consumers declared on the streams (`streams[].consumers`). */
  consumers: ConsumerManager;
  /** First sequence still held by `stream`, or undefined when the stream is unknown. */
  firstSeq(stream: string): Promise<number | undefined>;
  close(): Promise<void>;
}

/** Connects, waiting up to `timeoutMs`; throws NATS_DISCONNECTED naming the servers on failure. */
export async function openAdminSession(
  config: Config,
  logger: Logger,
  timeoutMs = 10_000,
  signal?: AbortSignal,
): Promise<AdminSession> {
  const connector = new NatsConnector({ config: config.nats, logger });
  await connector.start();
  try {
    await connector.waitConnected(timeoutMs, signal);
  } catch (err) {
    await connector.stop();
    throw new NetSyncError(
      'NATS_DISCONNECTED',
      `could not reach NATS at ${config.nats.servers.map(redactUrl).join(', ')} within ${timeoutMs} ms`,
      { cause: err },
    );
  }
  return {
    connector,
    publisher: new JetStreamPublisher({ connector, timeoutMs: config.nats.publishTimeoutMs, logger }),
    reader: new JetStreamReader({ connector, unsafeRetention: unsafeRetention(config) }),
    streams: new StreamManager({ connector, logger }),
    consumers: new ConsumerManager({ connector, logger }),
    firstSeq: async (stream) => {
      try {
        return (await connector.manager!.streams.info(stream)).state.first_seq;
      } catch {
        return undefined;
      }
    },
    close: () => connector.stop(),
  };
}

/** How readers treat WorkQueue and Interest streams under `config` (see JetStreamReaderOptions). */
export function unsafeRetention(config: Config): 'refuse' | 'skip' {
  return config.commit.dedupeOnlyWithinDuplicateWindow ? 'skip' : 'refuse';
}

/**
 * Refuses (CONFIG_INVALID naming `streams`) when a declared or live stream on our subjects
 * deletes what it stores, unless `commit.dedupeOnlyWithinDuplicateWindow` accepts it.
 */
export async function checkRetention(streams: StreamManager, config: Config): Promise<void> {
  const declared = specRetentionViews(config.streams);
  const names = new Set(declared.map((s) => s.name));
  const live = (await streams.liveRetention(config.subjects.prefix)).filter((s) => !names.has(s.name));
  const refusal = retentionRefusal(
    [...declared, ...live],
    config.subjects.prefix,
    config.commit.dedupeOnlyWithinDuplicateWindow,
  );
  if (refusal !== null) throw new NetSyncError('CONFIG_INVALID', refusal, { field: 'streams' });
}
