/**
 * The committer: drains the outbox into JetStream, exactly once. It holds the publisher lease,
 * resolves rows whose outcome is unknown by reading the stream before any resend, publishes
 * in insertion order with a bounded window, and backs off with jitter while NATS is away.
 * While it keeps up, appends claim their rows for it (`Outbox.claimAppends`), so a row costs
 * one durable transaction (its append) instead of two.
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import { backoffDelayMs, type BackoffPolicy } from '../core/backoff.js';
import { hasCode } from '../core/errors.js';
import type { OutboxRow } from '../core/intent.js';
import type { Clock, CommandPublisher, Outbox, StreamReader } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import type { BridgeMetrics } from './metrics.js';
import { PublishFeed } from './publish-feed.js';
import { runPublishPass, type PassOptions, type PassResult } from './publish-pass.js';
import { resolveUnknownOutcomes } from './unknown-outcomes.js';

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
  /**
   * No claimed row is sent, or put back to pending, once the lease covering its claim runs out
   * within this margin: a send must land (or time out) while the lease is ours. Default 5 s, the
   * default `nats.publishTimeoutMs`; the service passes the configured one.
   */
  sendMarginMs?: number;
  /**
   * See `PassOptions.sharedIdLookupAfterMs`. Default 60 s, half of JetStream's default duplicate
   * window; the service derives it from the configured streams.
   */
  sharedIdLookupAfterMs?: number;
  /** See `PassOptions.commandLookupAfterMs`. Default: never (consensus off). */
  commandLookupAfterMs?: number;
  /** Lease lifetime; renewed on every round. Default: the larger of 10 s and twice `sendMarginMs`. */
  leaseTtlMs?: number;
  /** See `PassOptions.deadLetter`: the notice stored with each row going `dead`. Default: none. */
  deadLetter?: PassOptions['deadLetter'];
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
  private readonly sendMarginMs: number;
  private readonly leaseTtl: number;
  // A lookup of unknown outcomes is running: appends claim nothing meanwhile.
  private resolving = false;
  // Rows in-flight may exist whose outcome this committer does not know: look them up first.
  private unknownMayExist = true;
  // When the lease taken by the last round runs out, if nothing renewed it since.
  private roundLeaseUntil = 0;

  constructor(opts: OutboxCommitterOptions) {
    super();
    this.opts = opts;
    this.feed = new PublishFeed(opts.outbox, opts.memoryRows ?? 8_192);
    this.sendMarginMs = opts.sendMarginMs ?? 5_000;
    this.leaseTtl = opts.leaseTtlMs ?? Math.max(10_000, 2 * this.sendMarginMs);
    if (this.leaseTtl <= this.sendMarginMs)
      throw new Error(`leaseTtlMs (${this.leaseTtl}) must exceed sendMarginMs (${this.sendMarginMs})`);
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
    const { leaseOwner: owner, clock } = this.opts;
    this.opts.outbox.claimAppends({
      owner,
      ttlMs: this.leaseTtl,
      now: () => clock.now(),
      room: () => this.appendClaimRoom(),
    });
    this.loop = this.run(this.abort.signal);
  }

  /**
   * Rows an append may claim for this committer: only while it is sending (connected, not
   * backing off, no unknown outcome pending) and has handed out every older publishable row, up
   * to one window held in memory.
   */
  private appendClaimRoom(): number {
    if (this.abort?.signal.aborted !== false || this.backingOff || this.unknownMayExist || this.resolving) return 0;
    if (this.opts.publisher.state !== 'connected') return 0;
    return this.feed.claimRoom(this.opts.window);
  }

  /**
   * Asks the loop to look at the outbox now (new rows). A backoff after a failure is only cut
   * short by `force` (the connection came back), so a stream of new rows cannot cause a
   * hot retry loop against a failing server.
   */
  wake(force = false): void {
    if (!force && this.backingOff) return;
    this.woken = true;
    this.wakeUp?.();
  }

  /**
   * Rows became publishable without an append (a promotion), possibly `in-flight` (a takeover,
   * to be looked up in the stream first): read the outbox again once memory runs dry, and wake.
   */
  promoted(): void {
    this.feed.rescan();
    this.unknownMayExist = true;
    this.wake();
  }

  /** Stops after the current pass drains its in-flight publishes, and releases the lease. Safe twice. */
  async stop(): Promise<void> {
    if (this.loop === null) return;
    this.opts.outbox.claimAppends(null);
    this.abort?.abort();
    this.wake(true);
    await this.loop;
    this.loop = null;
    this.unsubscribe?.();
    this.unsubscribeAppends?.();
    this.unsubscribeAppends = null;
    // Rows claimed on append and never sent go back to pending, while the lease still covers them.
    this.feed.invalidate();
    const now = this.opts.clock.now();
    if (this.opts.outbox.tryLease(this.opts.leaseOwner, this.leaseTtl, now)) this.returnDroppedClaims(now);
    this.opts.outbox.releaseLease(this.opts.leaseOwner);
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const delay = await this.round(signal);
        this.backingOff = this.failures > 0;
        if (delay > 0) await this.idle(delay, signal);
      } catch (err) {
        if (signal.aborted || hasCode(err, 'ABORTED')) {
          this.unknownMayExist = true;
          break;
        }
        // Never throw into the void: log, count, back off, keep going.
        this.feed.invalidate();
        this.unknownMayExist = true;
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
    const ttlMs = this.leaseTtl;
    const now = clock.now();
    if (!outbox.tryLease(this.opts.leaseOwner, ttlMs, now)) {
      // Another owner may move rows meanwhile: memory is not to be trusted once we are back.
      this.feed.invalidate();
      this.unknownMayExist = true;
      return idleMs;
    }
    // Held without a break since the last round? Otherwise another owner may have left rows in-flight.
    if (now >= this.roundLeaseUntil) this.unknownMayExist = true;
    this.roundLeaseUntil = now + ttlMs;
    // A claim held in memory longer than its lease is no longer ours for sure: to a lookup.
    if (this.feed.heldClaims().some((r) => !this.claimCovered(r, now + this.sendMarginMs))) this.feed.invalidate();
    this.returnDroppedClaims(now);
    if (this.unknownMayExist) {
      // Cleared first: a promotion during the lookup sets it again for the next round.
      this.unknownMayExist = false;
      if (!(await this.resolveUnknown(now, signal))) {
        this.unknownMayExist = true;
        return this.backoffMs();
      }
      // The lookup may have let memory go: put those claims back before newer rows go out.
      this.returnDroppedClaims(now);
    }
    const pass = await runPublishPass({
      outbox,
      publisher,
      now: () => clock.now(),
      lease: { owner: this.opts.leaseOwner, ttlMs, sendMarginMs: this.sendMarginMs },
      sharedIdLookupAfterMs: this.opts.sharedIdLookupAfterMs ?? 60_000,
      commandLookupAfterMs: this.opts.commandLookupAfterMs,
      feed: this.feed,
      window: this.opts.window,
      batchRows: this.opts.batchRows,
      logger: this.opts.logger,
      metrics: this.opts.metrics,
      signal,
      onSettled: (committed, dead) => this.announce(committed, dead),
      ...(this.opts.deadLetter === undefined ? {} : { deadLetter: this.opts.deadLetter }),
    });
    return this.afterPass(pass, idleMs);
  }

  private afterPass(pass: PassResult, idleMs: number): number {
    // A timeout leaves rows in-flight, a lapsed lease or a stale shared ID claimed rows unsent.
    if (pass.retryableError !== null || pass.leaseLapsed || pass.lookupFirst > 0) this.unknownMayExist = true;
    if (pass.retryableError !== null) {
      this.failures++;
      const delay = this.backoffMs();
      this.opts.logger.warn(
        { error: pass.retryableError, retryInMs: delay, failures: this.failures },
        'publish failed, backing off',
      );
      return delay;
    }
    this.failures = 0;
    return pass.claimed === 0 && !this.feed.hasDroppedClaims ? idleMs : 0;
  }

  /**
   * Rows claimed on append that memory let go of unsent: back to pending while the lease that
   * covered their claim is still ours (we renewed it at `renewedAt`, before it ran out, and it has
   * not run out since); otherwise another owner may have handled them since, so they are left to a
   * stream lookup.
   */
  private returnDroppedClaims(renewedAt: number): void {
    const now = this.opts.clock.now();
    if (!this.feed.hasDroppedClaims || now >= renewedAt + this.leaseTtl - this.sendMarginMs) return;
    if (this.feed.putBackDroppedClaims((r) => this.claimCovered(r, renewedAt), now) > 0) this.unknownMayExist = true;
  }

  // Whether the lease renewed by `row`'s claim on append still ran at `at`.
  private claimCovered(row: OutboxRow, at: number): boolean {
    return (row.lastAttemptAtMs ?? 0) + this.leaseTtl > at;
  }

  /**
   * Looks up the in-flight rows whose outcome is unknown (see unknown-outcomes.ts); the claims
   * memory holds for sending are ours, not unknown. Rows go back to pending only while the lease
   * renewed at `renewedAt` is held without a break. False when the round should back off.
   */
  private async resolveUnknown(renewedAt: number, signal: AbortSignal): Promise<boolean> {
    const { outbox, clock } = this.opts;
    let heldSince = renewedAt;
    this.resolving = true;
    try {
      const result = await resolveUnknownOutcomes({
        outbox,
        reader: this.opts.reader,
        clock,
        logger: this.opts.logger,
        metrics: this.opts.metrics,
        scanSkewMs: this.opts.scanSkewMs,
        skip: new Set(this.feed.heldClaims().map((r) => r.seq)),
        holdLease: () => {
          const now = clock.now();
          if (
            now >= heldSince + this.leaseTtl - this.sendMarginMs ||
            !outbox.tryLease(this.opts.leaseOwner, this.leaseTtl, now)
          )
            return false;
          heldSince = now;
          return true;
        },
        onCommitted: (rows) => this.announce(rows, []),
        signal,
      });
      // Rows went back to pending below the feed's cursor: read the outbox from its start.
      if (result.movedBack > 0) this.feed.invalidate();
      if (result.status === 'lookup-failed') this.failures++;
      return result.status === 'resolved';
    } finally {
      this.resolving = false;
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
