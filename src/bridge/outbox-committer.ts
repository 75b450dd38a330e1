/**
 * The committer: drains the outbox into JetStream, exactly once. It holds the publisher lease,
 * resolves rows whose outcome is unknown by reading the stream before any resend, publishes
 * in insertion order with a bounded window, and backs off with jitter while NATS is away.
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import { backoffDelayMs, type BackoffPolicy } from '../core/backoff.js';
import { hasCode } from '../core/errors.js';
import type { StreamLocation } from '../core/intent.js';
import { locateRows } from '../core/locate-rows.js';
import type { Clock, CommandPublisher, Outbox, StreamReader } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import type { BridgeMetrics } from './metrics.js';
import { PublishFeed } from './publish-feed.js';
import { runPublishPass, type PassResult } from './publish-pass.js';

/** Collaborators and tuning of the committer. */
export interface OutboxCommitterOptions {
  outbox: Outbox;
  publisher: CommandPublisher;
  reader: StreamReader;
  clock: Clock;
  logger: Logger;
  metrics?: BridgeMetrics;
  /** PubAcks in flight at once. */
  window: number;
  /** Rows claimed per transaction. */
  batchRows: number;
  backoff: BackoffPolicy;
  /** Clock-skew allowance when scanning the stream for a row. */
  scanSkewMs: number;
  /** Lease owner: stable per sidecar, so a restarted sidecar resumes at once. */
  leaseOwner: string;
  /** Lease lifetime; renewed on every round. Default 10 s. */
  leaseTtlMs?: number;
  /** Idle poll period when nothing wakes the loop. Default 1 s. */
  idleMs?: number;
  /**
   * New rows held in memory to publish without reading them back from the outbox; past it the
   * outbox is read instead. Default 8,192 (8 windows of the default 1,024; a few MB).
   */
  memoryRows?: number;
  random?: () => number;
}

/** Events: `intent:committed` and `intent:dead` with lists of rows. */
export interface CommitterEvents {
  'intent:committed': [PassResult['committed']];
  'intent:dead': [Array<{ correlationId: string; reason: string }>];
}

/** Drains the outbox into JetStream. start() once, stop() to drain and release the lease. */
export class OutboxCommitter extends EventEmitter<CommitterEvents> {
  private readonly opts: OutboxCommitterOptions;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private failures = 0;
  private backingOff = false;
  private unsubscribe: (() => void) | null = null;
  private unsubscribeAppends: (() => void) | null = null;
  private readonly feed: PublishFeed;

  constructor(opts: OutboxCommitterOptions) {
    super();
    this.opts = opts;
    this.feed = new PublishFeed(opts.outbox, opts.memoryRows ?? 8_192);
  }

  /** Starts the background loop. */
  start(): void {
    if (this.loop !== null) return;
    this.abort = new AbortController();
    // Every publish in the window listens on this signal.
    setMaxListeners(this.opts.window + 64, this.abort.signal);
    this.unsubscribe = this.opts.publisher.onState((s) => {
      if (s === 'connected') this.wake(true);
    });
    this.unsubscribeAppends = this.opts.outbox.onAppended((rows) => this.feed.offer(rows));
    this.loop = this.run(this.abort.signal);
  }

  /**
   * Asks the loop to look at the outbox now (new rows). A backoff after a failure is only cut
   * short by `force` (the connection came back), so a stream of new rows cannot cause a
   * hot retry loop against a failing server.
   */
  wake(force = false): void {
    // Rows may have become publishable without an append (a promotion): look once memory runs dry.
    this.feed.rescan();
    if (!force && this.backingOff) return;
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops after the current pass drains its in-flight publishes, and releases the lease. Safe twice. */
  async stop(): Promise<void> {
    if (this.loop === null) return;
    this.abort?.abort();
    this.wake(true);
    await this.loop;
    this.loop = null;
    this.unsubscribe?.();
    this.unsubscribeAppends?.();
    this.unsubscribeAppends = null;
    this.opts.outbox.releaseLease(this.opts.leaseOwner);
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const delay = await this.round(signal);
        this.backingOff = this.failures > 0;
        if (delay > 0) await this.idle(delay, signal);
      } catch (err) {
        if (signal.aborted || hasCode(err, 'ABORTED')) break;
        // Never throw into the void: log, count, back off, keep going.
        this.feed.invalidate();
        this.failures++;
        this.backingOff = true;
        this.opts.logger.warn({ err }, 'commit round failed');
        await this.idle(this.backoffMs(), signal);
      }
    }
  }

  /** One round; returns how long to wait before the next (0 = go on at once). */
  private async round(signal: AbortSignal): Promise<number> {
    const { outbox, publisher, clock } = this.opts;
    const idleMs = this.opts.idleMs ?? 1_000;
    if (publisher.state !== 'connected') return idleMs;
    const ttlMs = this.opts.leaseTtlMs ?? 10_000;
    if (!outbox.tryLease(this.opts.leaseOwner, ttlMs, clock.now())) {
      // Another owner may move rows meanwhile: memory is not to be trusted once we are back.
      this.feed.invalidate();
      return idleMs;
    }
    if (!(await this.resolveUnknown(signal))) return this.backoffMs();
    const pass = await runPublishPass({
      outbox,
      publisher,
      now: () => clock.now(),
      lease: { owner: this.opts.leaseOwner, ttlMs },
      feed: this.feed,
      window: this.opts.window,
      batchRows: this.opts.batchRows,
      logger: this.opts.logger,
      metrics: this.opts.metrics,
      signal,
      onSettled: (committed, dead) => this.announce(committed, dead),
    });
    return this.afterPass(pass, idleMs);
  }

  private afterPass(pass: PassResult, idleMs: number): number {
    if (pass.retryableError !== null) {
      this.failures++;
      const delay = this.backoffMs();
      this.opts.logger.warn({ error: pass.retryableError, retryInMs: delay, failures: this.failures }, 'publish failed, backing off');
      return delay;
    }
    this.failures = 0;
    return pass.claimed === 0 ? idleMs : 0;
  }

  /**
   * Rows in-flight may be in the stream already. Each is looked up before any resend:
   * found → committed with its seq, missing → back to pending. False when NATS failed us.
   */
  private async resolveUnknown(signal: AbortSignal): Promise<boolean> {
    const { outbox, clock, logger, metrics } = this.opts;
    for (;;) {
      const rows = outbox.listInFlight(5_000);
      if (rows.length === 0) return true;
      let found: Map<string, StreamLocation>;
      try {
        found = await locateRows(this.opts.reader, rows, this.opts.scanSkewMs, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        logger.warn({ err, rows: rows.length }, 'stream lookup failed');
        this.failures++;
        return false;
      }
      const committed = rows.filter((r) => found.has(r.correlationId)).map((r) => ({ correlationId: r.correlationId, ...found.get(r.correlationId)! }));
      const missing = rows.filter((r) => !found.has(r.correlationId)).map((r) => r.correlationId);
      const at = clock.now();
      if (committed.length > 0) outbox.markCommitted(committed, at);
      if (missing.length > 0) {
        outbox.markRetry(missing, 'outcome unknown; not found in stream', at);
        this.feed.invalidate();
      }
      metrics?.lookups.inc({ result: 'found' }, committed.length);
      metrics?.lookups.inc({ result: 'missing' }, missing.length);
      logger.info({ found: committed.length, missing: missing.length }, 'resolved unknown outcomes from the stream');
      this.announce(committed, []);
      if (rows.length < 5_000) return true;
    }
  }

  private announce(committed: PassResult['committed'], dead: PassResult['dead']): void {
    if (committed.length > 0) this.emit('intent:committed', committed);
    if (dead.length > 0) this.emit('intent:dead', dead);
  }

  private backoffMs(): number {
    return backoffDelayMs(this.opts.backoff, Math.max(0, this.failures - 1), this.opts.random ?? Math.random);
  }

  private async idle(ms: number, signal: AbortSignal): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    const wake = new Promise<void>((resolve) => (this.wakeUp = resolve));
    try {
      await Promise.race([this.opts.clock.sleep(ms, signal), wake]);
    } catch (err) {
      if (!hasCode(err, 'ABORTED')) throw err;
    } finally {
      this.wakeUp = null;
      this.woken = false;
    }
  }
}
