/**
 * The one NATS connection of a sidecar: auth, TLS, reconnect forever, and the connection state
 * as events. The sidecar must come up while NATS is down, and a lost connection must not carry
 * anything into the next one, so every connection is made by our own cancellable loop (see
 * `start()`) and a lost one is replaced by a new one, never revived (see `fence()`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  connect,
  type ConnectionOptions,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
import type { NatsConfig } from '../config/schema.js';
import { NetSyncError } from '../core/errors.js';
import type { ConnectionListener, ConnectionState } from '../core/ports.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { buildConnectionOptions } from './connection-options.js';
import type { NatsMetrics } from './metrics.js';
import { resetSocket } from './socket-fence.js';

/** Options of {@link NatsConnector}. */
export interface NatsConnectorOptions {
  /** The `nats` slice of the config. */
  config: NatsConfig;
  logger?: Logger;
  metrics?: NatsMetrics;
  /** Wait for a server's INFO on one dial. Default 5 s: a SIGSTOPped server must not hold start() for nats.js' 20 s. */
  connectTimeoutMs?: number;
  /**
   * Client PING interval; two unanswered PINGs mark the connection stale and trigger a
   * reconnect. Default 10 s: a frozen server is noticed in ~30 s instead of nats.js' 4 min.
   */
  pingIntervalMs?: number;
  /**
   * Period of the responsiveness probe (a PING/PONG round trip on the live connection).
   * Default 1 s: one PING a second is nothing for the server.
   */
  probeIntervalMs?: number;
  /**
   * A probe unanswered for this long fences the connection (a frozen server or a silent
   * partition: no RST, no FIN): readiness drops, the committer stops sending into the void, and
   * nothing it sent can land later. Default 3 s: with the 1 s probe period, a stall shows
   * within 4 s, inside the 5 s readiness budget.
   */
  stallTimeoutMs?: number;
}

/**
 * Connects to `nats.servers` and keeps connected until `stop()`.
 *
 * nats.js 2.x with `waitOnFirstConnect: true` does not resolve `connect()` until a server
 * answers, and offers no handle to cancel that dial loop, so `stop()` could never end it.
 * Instead `start()` makes one attempt over all servers and returns; on failure a background
 * loop retries every `reconnectWaitMs` + jitter until it connects or `stop()` is called.
 */
export class NatsConnector {
  private readonly config: NatsConfig;
  private readonly log: Logger;
  private readonly metrics: NatsMetrics | undefined;
  private readonly connectTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly probeIntervalMs: number;
  private readonly stallTimeoutMs: number;
  private readonly listeners = new Set<ConnectionListener>();
  private readonly abort = new AbortController();
  private current: ConnectionState = 'connecting';
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private options: ConnectionOptions | undefined;
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private started = false;
  private lastErr: unknown;
  private everConnected = false;
  // The connection fence() ended, so that a second call for it does nothing.
  private fenced: NatsConnection | undefined;

  constructor(opts: NatsConnectorOptions) {
    this.config = opts.config;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'nats' });
    this.metrics = opts.metrics;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    this.pingIntervalMs = opts.pingIntervalMs ?? 10_000;
    this.probeIntervalMs = opts.probeIntervalMs ?? 1_000;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? 3_000;
  }

  /** Current state: `connecting` until the first connect, then `connected`/`disconnected`, `closed` after stop(). */
  get state(): ConnectionState {
    return this.current;
  }

  /** The last connect error (auth, refused…), for status output. */
  get lastError(): unknown {
    return this.lastErr;
  }

  /** The live connection, or undefined before the first connect and after stop(). */
  get connection(): NatsConnection | undefined {
    return this.nc;
  }

  /** JetStream client (PubAck timeout = `publishTimeoutMs`), once connected. */
  get jetstream(): JetStreamClient | undefined {
    return this.js;
  }

  /** JetStream manager, once connected. */
  get manager(): JetStreamManager | undefined {
    return this.jsm;
  }

  /** Subscribes to state changes; returns an unsubscribe function. */
  onState(listener: ConnectionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads auth files, makes one connect attempt and returns. Rejects only on bad config
   * (unreadable NKey seed or creds file). If no server answered, state stays `connecting` and
   * a background loop keeps trying.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.options = await buildConnectionOptions(this.config, {
      connectTimeoutMs: this.connectTimeoutMs,
      pingIntervalMs: this.pingIntervalMs,
    });
    let firstDone!: () => void;
    const first = new Promise<void>((resolve) => (firstDone = resolve));
    // stop() awaits `loop`, so it also waits for a first attempt still in flight.
    this.loop = (async () => {
      const ok = await this.attempt();
      firstDone();
      if (!ok) await this.retryLoop();
    })();
    await first;
  }

  /**
   * Resolves once connected; rejects with ABORTED on `signal`, NATS_TIMEOUT after `timeoutMs`
   * (default 30 s), or NATS_DISCONNECTED once stopped.
   */
  async waitConnected(timeoutMs = 30_000, signal?: AbortSignal): Promise<void> {
    if (this.current === 'connected') return;
    if (this.current === 'closed') throw new NetSyncError('NATS_DISCONNECTED', 'NATS connector stopped');
    await new Promise<void>((resolve, reject) => {
      const done = (err?: NetSyncError): void => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => done(new NetSyncError('ABORTED', 'aborted while waiting for NATS'));
      const timer = setTimeout(
        () =>
          done(
            new NetSyncError('NATS_TIMEOUT', `not connected to NATS after ${timeoutMs} ms`, { cause: this.lastErr }),
          ),
        timeoutMs,
      );
      const off = this.onState((s) => {
        if (s === 'connected') done();
        else if (s === 'closed') done(new NetSyncError('NATS_DISCONNECTED', 'NATS connector stopped'));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
    });
  }

  /**
   * Ends the current connection so that nothing written on it can still reach the server:
   * its socket is reset (the kernel drops what it has not delivered; socket-fence.ts) and
   * nats.js drops what it has not written; a new connection follows. Call it when an outcome
   * was given up on (a PubAck that did not come) before anyone may publish that message again.
   */
  fence(reason: string): void {
    const nc = this.nc;
    if (nc === undefined || nc.isClosed() || this.fenced === nc) return;
    this.fenced = nc;
    const reset = resetSocket(nc);
    this.metrics?.fences.inc({ reason });
    if (reset) this.log.warn({ server: nc.getServer(), reason }, 'nats connection fenced');
    else this.log.error({ server: nc.getServer(), reason }, 'nats socket not found to reset; closing it only');
    this.setState('disconnected');
    void nc.close().catch(() => undefined);
  }

  /** Stops the retry loop, drains the connection (bounded by 5 s) and closes it. Safe twice. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    const nc = this.nc;
    if (nc !== undefined && !nc.isClosed()) {
      // drain() flushes, which waits for a reconnect when disconnected: bound it, then close.
      const drained = nc.drain().catch(() => undefined);
      const timer = sleep(5_000, undefined, { ref: false }).catch(() => undefined);
      await Promise.race([drained, timer]);
      await nc.close().catch(() => undefined);
    }
    this.setState('closed');
  }

  // One pass over all servers. True when connected.
  private async attempt(): Promise<boolean> {
    let nc: NatsConnection;
    try {
      nc = await connect(this.options);
    } catch (err) {
      this.lastErr = err;
      this.log.warn({ err: describe(err), servers: this.config.servers.map(redactUrl) }, 'nats connect failed');
      return false;
    }
    // checkAPI: false — no round trip here; JetStream may be starting (cluster elections).
    const jsm = await nc.jetstreamManager({ checkAPI: false, timeout: this.config.publishTimeoutMs });
    if (this.abort.signal.aborted) {
      await nc.close().catch(() => undefined);
      return false;
    }
    this.adopt(nc, jsm);
    return true;
  }

  private async retryLoop(): Promise<void> {
    const { reconnectWaitMs, reconnectJitterMs } = this.config;
    while (!this.abort.signal.aborted) {
      try {
        await sleep(reconnectWaitMs + Math.random() * reconnectJitterMs, undefined, { signal: this.abort.signal });
      } catch {
        return; // aborted by stop()
      }
      if (await this.attempt()) return;
    }
  }

  private adopt(nc: NatsConnection, jsm: JetStreamManager): void {
    this.jsm = jsm;
    this.js = nc.jetstream({ timeout: this.config.publishTimeoutMs });
    this.nc = nc;
    this.lastErr = undefined;
    if (this.everConnected) this.metrics?.reconnects.inc();
    this.everConnected = true;
    this.log.info({ server: nc.getServer() }, 'nats connected');
    this.setState('connected');
    void this.watchStatus(nc);
    void this.probe(nc);
    void nc.closed().then((err) => this.onClosed(nc, err ?? undefined));
  }

  // Round trips on the live connection; an answer late by `stallTimeoutMs` marks it disconnected.
  private async probe(nc: NatsConnection): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted && this.nc === nc && !nc.isClosed()) {
      try {
        await sleep(this.probeIntervalMs, undefined, { signal });
      } catch {
        return; // stopped
      }
      if (this.nc !== nc || nc.isClosed() || this.current !== 'connected') continue;
      const answered = nc.flush().then(
        () => true,
        () => false,
      );
      const timer = sleep(this.stallTimeoutMs, false, { ref: false }).catch(() => false);
      if (await Promise.race([answered, timer])) continue;
      if (this.nc !== nc || this.current !== 'connected') continue;
      this.log.warn({ server: nc.getServer(), stallTimeoutMs: this.stallTimeoutMs }, 'nats unresponsive');
      // Even a pause, not a partition, ends this connection: what we wrote before it must not
      // land after someone else gave up waiting for it.
      this.fence('unresponsive');
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.log.warn({ server: s.data }, 'nats disconnected');
          // Late news of a connection already replaced must not mark its successor down.
          if (this.nc === nc || this.nc === undefined) this.setState('disconnected');
          break;
        case 'error':
          this.log.warn({ err: s.data, context: s.permissionContext }, 'nats async error');
          break;
        case 'ldm':
          this.log.info({ server: s.data }, 'nats server entering lame duck mode');
          break;
        default:
          break;
      }
    }
  }

  // A lost or fenced connection: start over with the connect loop, on a new connection.
  private onClosed(nc: NatsConnection, err: Error | undefined): void {
    if (this.nc !== nc) return;
    if (this.abort.signal.aborted) return;
    this.log.warn({ err: describe(err), fenced: this.fenced === nc }, 'nats connection lost; reconnecting');
    this.lastErr = err;
    this.nc = undefined;
    this.js = undefined;
    this.jsm = undefined;
    this.setState('disconnected');
    this.loop = this.retryLoop();
  }

  private setState(next: ConnectionState): void {
    if (next === this.current) return;
    this.current = next;
    this.metrics?.connected.set(next === 'connected' ? 1 : 0);
    for (const listener of [...this.listeners]) {
      try {
        listener(next);
      } catch (err) {
        this.log.error({ err: describe(err) }, 'nats state listener threw');
      }
    }
  }
}

// Error text for logs without stack noise.
function describe(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  if (err instanceof Error) return `${(err as { code?: string }).code ?? err.name}: ${err.message}`;
  return String(err);
}

/** A server URL without its user:password part, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//****@');
}
