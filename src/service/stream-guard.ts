/**
 * The streams a sidecar commits to, checked on every (re)connect before publishing opens:
 * missing streams are created (existing ones are left to `net-sync streams apply`), drift is
 * logged, and a stream that deletes what it stores closes publishing for good (fatal), since a
 * row whose PubAck is lost could never be looked up (docs/exactly-once.md).
 */
import type { Config } from '../config/schema.js';
import { backoffDelayMs } from '../core/backoff.js';
import { NetSyncError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import { retentionRefusal, shortestDuplicateWindowMs, windowsWithinFence } from '../core/retention-hazard.js';
import type { NatsConnector, StreamManager } from '../nats/index.js';
import type { Logger } from '../observability/logger.js';
import type { ReadyPublisher } from './ready-publisher.js';

/** Retries of a failed check: a JetStream timeout while a stream leader moves, say. */
const CHECK_BACKOFF = { baseMs: 250, maxMs: 5_000, minMs: 100 };

export interface StreamGuardOptions {
  config: Pick<Config, 'streams' | 'subjects' | 'nats' | 'commit'>;
  connector: NatsConnector;
  streams: StreamManager;
  publisher: ReadyPublisher;
  clock: Clock;
  logger: Logger;
  /** Called once when the sidecar cannot go on; the CLI then stops it. */
  onFatal: (err: NetSyncError) => void;
}

/** Opens the publisher once the streams check out, after every connect. */
export class StreamGuard {
  readonly name = 'streams';
  private readonly halt = new AbortController();
  private ensuring: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private windowMs: number | undefined;

  constructor(private readonly opts: StreamGuardOptions) {}

  /**
   * The shortest duplicate window among the declared streams and those the server holds under
   * the prefix, as read by the last check that opened publishing; undefined before one.
   */
  get duplicateWindowMs(): number | undefined {
    return this.windowMs;
  }

  start(): void {
    this.unsubscribe = this.opts.connector.onState((s) => {
      if (s === 'connected') void this.ensure();
    });
    if (this.opts.connector.state === 'connected') void this.ensure();
  }

  stop(): void {
    this.halt.abort();
    this.unsubscribe?.();
  }

  private ensure(): Promise<void> {
    this.ensuring ??= this.checkUntilReady().finally(() => (this.ensuring = null));
    return this.ensuring;
  }

  // Retried with backoff for as long as the connection holds: publishing stays closed until a
  // check succeeds, and waiting for the next reconnect could mean waiting forever.
  private async checkUntilReady(): Promise<void> {
    for (let attempt = 0; !this.halt.signal.aborted && this.opts.connector.state === 'connected'; attempt++) {
      if (await this.check()) return;
      try {
        await this.opts.clock.sleep(backoffDelayMs(CHECK_BACKOFF, attempt, Math.random), this.halt.signal);
      } catch {
        return; // stopping
      }
    }
  }

  private async check(): Promise<boolean> {
    const { config, streams, logger: log } = this.opts;
    const prefix = config.subjects.prefix;
    try {
      const plan = await streams.plan(config.streams);
      const missing = config.streams.filter((_, i) => plan[i]?.action === 'create');
      if (missing.length > 0) {
        const results = await streams.apply(missing);
        log.info(
          { created: results.filter((r) => r.outcome === 'applied').map((r) => r.diff.stream) },
          'created missing streams',
        );
      }
      const live = await streams.liveRetention(prefix);
      const short = windowsWithinFence(live, prefix, config.nats.publishTimeoutMs);
      if (short.length > 0)
        log.warn(
          {
            streams: short.map((st) => `${st.name} (${st.duplicateWindowMs} ms)`),
            publishTimeoutMs: config.nats.publishTimeoutMs,
          },
          'duplicate window not longer than nats.publishTimeoutMs: a takeover after a cut may store a command twice',
        );
      const refusal = retentionRefusal(live, prefix, config.commit.dedupeOnlyWithinDuplicateWindow);
      if (refusal !== null) {
        log.error({ reason: refusal }, 'refusing to commit to a stream that deletes what it stores');
        this.opts.onFatal(new NetSyncError('CONFIG_INVALID', refusal, { field: 'streams' }));
        return true;
      }
      this.windowMs = shortestDuplicateWindowMs([
        ...config.streams,
        ...live.map((st) => ({ duplicateWindow: st.duplicateWindowMs })),
      ]);
      const drifted = plan.filter((d) => d.action === 'update').map((d) => d.stream);
      if (drifted.length > 0)
        log.warn({ streams: drifted }, 'streams drift from the spec; run `net-sync streams apply`');
      this.opts.publisher.open();
      return true;
    } catch (err) {
      log.warn({ err }, 'could not check streams; retrying');
      return false;
    }
  }
}
