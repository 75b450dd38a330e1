/**
 * The committer: drains the outbox into JetStream, exactly once. It holds the publisher lease,
 * resolves rows whose outcome is unknown by reading the stream before any resend, publishes
 * in insertion order with a bounded window, and backs off with jitter while NATS is away.
 * While it keeps up, appends claim their rows for it (`Outbox.claimAppends`), so a row costs
 * one durable transaction (its append) instead of two. The whole path: docs/commit-path.md.
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import { backoffDelayMs, type BackoffPolicy } from '../core/backoff.js';
import { hasCode } from '../core/errors.js';
import { type LeaseCoverage, LeaseTerms } from '../core/lease-coverage.js';
import type { Clock, CommandPublisher, Outbox, StreamReader } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import { CommitterState, type LookupEnd } from './committer-state.js';
import type { CommitMetrics } from './metrics.js';
import { PublishFeed } from './publish-feed.js';
import { runPublishPass, type PassOptions, type PassResult } from './publish-pass.js';
import { type ResendLookup, resolveUnknownOutcomes } from './unknown-outcomes.js';

/**
 * Idle poll period: appends, promotions and reconnects wake the loop sooner, so this only bounds a
 * missed wake (and a lease held by another owner), and renews the lease: at most a third of the
 * lease's lifetime, so that an idle round always finds its lease unbroken. Each round is a SQLite
 * write; at 1 s it was a measurable part of an idle sidecar (docs/benchmarks.md, fleet).
 */
export const DEFAULT_IDLE_MS = 3_000;

/** New rows held in memory: 8 windows of the default 1,024, a few MB, before the outbox is read instead. */
export const DEFAULT_MEMORY_ROWS = 8_192;

/**
 * Half of JetStream's default duplicate window (2 min): a stale shared ID is looked up before
 * that window forgets the other copy.
 */
export const DEFAULT_SHARED_ID_LOOKUP_AFTER_MS = 60_000;

// Headroom beside the window's publishes for the signal's other listeners (the pass, the wait, a scan).
const EXTRA_ABORT_LISTENERS = 64;

/** Collaborators and tuning of the committer. */
export interface OutboxCommitterOptions {
  outbox: Outbox;
  publisher: CommandPublisher;
  reader: StreamReader;
  clock: Clock;
  logger: Logger;
  metrics?: CommitMetrics;
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
   * within this margin: a send must land (or time out) while the lease is ours. Default 5 s
   * (`DEFAULT_SEND_MARGIN_MS`), the default `nats.publishTimeoutMs`; the service passes the configured one.
   */
  sendMarginMs?: number;
  /**
   * See `PassOptions.sharedIdLookupAfterMs`. Default 60 s (`DEFAULT_SHARED_ID_LOOKUP_AFTER_MS`), half of
   * JetStream's default duplicate window; the service derives it from the configured streams.
   */
  sharedIdLookupAfterMs?: number;
  /** See `PassOptions.commandLookupAfterMs`. Default: never (consensus off). */
  commandLookupAfterMs?: number;
  /** Lease lifetime; renewed on every round. Default: the larger of 10 s and twice `sendMarginMs`. */
  leaseTtlMs?: number;
  /** See `PassOptions.deadLetter`: the notice stored with each row going `dead`. Default: none. */
  deadLetter?: PassOptions['deadLetter'];
  /**
   * The shortest duplicate window of the streams the rows go to, as last read from the server, or
   * undefined while unknown: rows whose outcome is unknown and whose every copy that window still
   * covers (with half of it to spare) are resent under their own ID instead of looked up by a read
   * of the stream (unknown-outcomes.ts). Default: always read the stream.
   */
  duplicateWindowMs?: () => number | undefined;
  /** Idle poll period when nothing wakes the loop. Default 3 s (`DEFAULT_IDLE_MS`), capped at a third of the lease's lifetime. */
  idleMs?: number;
  /**
   * New rows held in memory to publish without reading them back from the outbox; past it the
   * outbox is read instead. Default 8,192 (`DEFAULT_MEMORY_ROWS`).
   */
  memoryRows?: number;
  random?: () => number;
}

/** What one lookup of unknown outcomes did (`lookup:ended`), for timelines and benches. */
export interface LookupReport {
  status: LookupEnd;
  /** Unknown rows looked up, and of them: found in the stream by a scan, resent under their own ID, moved back. */
  rows: number;
  found: number;
  resent: number;
  movedBack: number;
  /** Why a resend stopped short, if one did (its rows were then read from the stream). */
  resendFailure?: string;
  /** Clock time the lookup took. */
  durationMs: number;
}

/** Events: `intent:committed` and `intent:dead` with lists of rows; `lookup:ended` after each lookup. */
export interface CommitterEvents {
  'intent:committed': [PassResult['committed']];
  'intent:dead': [Array<{ correlationId: string; reason: string }>];
  'lookup:ended': [LookupReport];
}

/** Drains the outbox into JetStream. start() once, stop() to drain and release the lease. */
export class OutboxCommitter extends EventEmitter<CommitterEvents> {
  private readonly opts: OutboxCommitterOptions;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private unsubscribe: (() => void) | null = null;
  private unsubscribeAppends: (() => void) | null = null;
  private readonly feed: PublishFeed;
  private readonly lease: LeaseTerms;
  private readonly state = new CommitterState();

  constructor(opts: OutboxCommitterOptions) {
    super();
    this.opts = opts;
    this.feed = new PublishFeed(opts.outbox, opts.memoryRows ?? DEFAULT_MEMORY_ROWS);
    this.lease = LeaseTerms.from({ ttlMs: opts.leaseTtlMs, sendMarginMs: opts.sendMarginMs });
  }

  /** Starts the background loop. */
  start(): void {
    if (this.loop !== null) return;
    this.abort = new AbortController();
    // Every publish in the window listens on this signal.
    setMaxListeners(this.opts.window + EXTRA_ABORT_LISTENERS, this.abort.signal);
    this.state.started();
    this.unsubscribe = this.opts.publisher.onState((s) => {
      if (s === 'connected') this.wake(true);
    });
    this.unsubscribeAppends = this.opts.outbox.onAppended((rows) => this.feed.offer(rows));
    const { leaseOwner: owner, clock } = this.opts;
    this.opts.outbox.claimAppends({
      owner,
      ttlMs: this.lease.ttlMs,
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
    if (!this.state.appendsMayClaim || this.opts.publisher.state !== 'connected') return 0;
    return this.feed.claimRoom(this.opts.window);
  }

  /**
   * Asks the loop to look at the outbox now (new rows). A backoff after a failure is only cut
   * short by `force` (the connection came back), so a stream of new rows cannot cause a
   * hot retry loop against a failing server.
   */
  wake(force = false): void {
    if (this.state.woken(force)) this.wakeUp?.();
  }

  /**
   * Rows became publishable without an append (a promotion), possibly `in-flight` (a takeover,
   * to be looked up in the stream first): read the outbox again once memory runs dry, and wake.
   */
  promoted(): void {
    this.feed.rescan();
    this.state.outcomesMayBeUnknown();
    this.wake();
  }

  /** Stops after the current pass drains its in-flight publishes, and releases the lease. Safe twice. */
  async stop(): Promise<void> {
    if (this.loop === null) return;
    this.opts.outbox.claimAppends(null);
    this.state.stopped();
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
    if (this.opts.outbox.tryLease(this.opts.leaseOwner, this.lease.ttlMs, now)) this.returnDroppedClaims(now);
    this.opts.outbox.releaseLease(this.opts.leaseOwner);
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.state.roundBegan();
        const delay = await this.round(signal);
        this.state.roundEnded();
        if (delay > 0) await this.idle(delay, signal);
      } catch (err) {
        if (signal.aborted || hasCode(err, 'ABORTED')) {
          this.state.stopped();
          break;
        }
        // Never throw into the void: log, count, back off, keep going.
        this.feed.invalidate();
        this.state.roundFailed();
        this.opts.logger.warn({ err }, 'commit round failed');
        await this.idle(this.backoffMs(), signal);
      }
    }
  }

  /** One round; returns how long to wait before the next (0 = go on at once). */
  private async round(signal: AbortSignal): Promise<number> {
    const { outbox, publisher, clock } = this.opts;
    const idleMs = this.opts.idleMs ?? Math.min(DEFAULT_IDLE_MS, Math.floor(this.lease.ttlMs / 3));
    if (publisher.state !== 'connected') return idleMs;
    const now = clock.now();
    if (!outbox.tryLease(this.opts.leaseOwner, this.lease.ttlMs, now)) {
      // Another owner may move rows meanwhile: memory is not to be trusted once we are back.
      this.feed.invalidate();
      this.state.outcomesMayBeUnknown();
      return idleMs;
    }
    this.state.leaseRenewed(this.lease.renewedAt(now));
    // A claim held in memory that can no longer be sent is no longer ours for sure: to a lookup.
    if (this.feed.heldClaims().some((r) => !this.lease.ofClaim(r).holdsWithMargin(now))) this.feed.invalidate();
    this.returnDroppedClaims(now);
    if (this.state.mustLookUp) {
      if (!(await this.resolveUnknown(now, signal))) return this.backoffMs();
      // The lookup may have let memory go: put those claims back before newer rows go out.
      this.returnDroppedClaims(now);
    }
    const pass = await runPublishPass({
      outbox,
      publisher,
      now: () => clock.now(),
      lease: { owner: this.opts.leaseOwner, ttlMs: this.lease.ttlMs, sendMarginMs: this.lease.sendMarginMs },
      sharedIdLookupAfterMs: this.opts.sharedIdLookupAfterMs ?? DEFAULT_SHARED_ID_LOOKUP_AFTER_MS,
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
    const failed = pass.retryableError !== null;
    this.state.passEnded({ failed, leftInFlight: pass.leaseLapsed || pass.lookupFirst > 0 });
    if (failed) {
      const delay = this.backoffMs();
      this.opts.logger.warn(
        { error: pass.retryableError, retryInMs: delay, failures: this.state.failures },
        'publish failed, backing off',
      );
      return delay;
    }
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
    if (!this.feed.hasDroppedClaims || !this.lease.renewedAt(renewedAt).holdsWithMargin(now)) return;
    const leftInFlight = this.feed.putBackDroppedClaims((r) => this.lease.ofClaim(r).holds(renewedAt), now);
    if (leftInFlight > 0) this.state.outcomesMayBeUnknown();
  }

  /**
   * Looks up the in-flight rows whose outcome is unknown (see unknown-outcomes.ts); the claims
   * memory holds for sending are ours, not unknown. Rows go back to pending only while the lease
   * renewed at `renewedAt` is held without a break. False when the round should back off.
   */
  private async resolveUnknown(renewedAt: number, signal: AbortSignal): Promise<boolean> {
    const { outbox, clock } = this.opts;
    let held = this.lease.renewedAt(renewedAt);
    this.state.lookupStarted();
    const startedAt = clock.now();
    let end: LookupEnd = 'thrown';
    let report: Omit<LookupReport, 'status' | 'durationMs'> = { rows: 0, found: 0, resent: 0, movedBack: 0 };
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
          if (!held.holdsWithMargin(now) || !outbox.tryLease(this.opts.leaseOwner, this.lease.ttlMs, now)) return false;
          held = this.lease.renewedAt(now);
          return true;
        },
        onCommitted: (rows) => this.announce(rows, []),
        resend: this.resendLookup(() => held),
        signal,
      });
      // Rows went back to pending below the feed's cursor: read the outbox from its start.
      if (result.movedBack > 0) this.feed.invalidate();
      end = result.status;
      const { rows, found, resent, movedBack, resendFailure } = result;
      report = { rows, found, resent, movedBack, ...(resendFailure === undefined ? {} : { resendFailure }) };
      return end === 'resolved';
    } finally {
      this.state.lookupEnded(end);
      this.emit('lookup:ended', { status: end, ...report, durationMs: clock.now() - startedAt });
    }
  }

  // The resend path of a lookup, while the duplicate window is known; `held` is the lease as last renewed.
  private resendLookup(held: () => LeaseCoverage): ResendLookup | undefined {
    const windowMs = this.opts.duplicateWindowMs?.();
    if (windowMs === undefined || !(windowMs > 0)) return undefined;
    const { clock } = this.opts;
    return {
      publisher: this.opts.publisher,
      withinMs: windowMs / 2,
      sendMarginMs: this.lease.sendMarginMs,
      window: this.opts.window,
      mayStillSend: () => held().holdsWithMargin(clock.now()),
    };
  }

  private announce(committed: PassResult['committed'], dead: PassResult['dead']): void {
    if (committed.length > 0) this.emit('intent:committed', committed);
    if (dead.length > 0) this.emit('intent:dead', dead);
  }

  private backoffMs(): number {
    return backoffDelayMs(this.opts.backoff, Math.max(0, this.state.failures - 1), this.opts.random ?? Math.random);
  }

  private async idle(ms: number, signal: AbortSignal): Promise<void> {
    if (this.state.takeWake()) return;
    const wake = new Promise<void>((resolve) => (this.wakeUp = resolve));
    try {
      await Promise.race([this.opts.clock.sleep(ms, signal), wake]);
    } catch (err) {
      if (!hasCode(err, 'ABORTED')) throw err;
    } finally {
      this.wakeUp = null;
      this.state.waitEnded();
    }
  }
}
