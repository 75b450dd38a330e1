/**
 * The committer's state, as one value with named transitions: where its loop is, whether rows of
 * unknown outcome may exist, its failures and backoff, the lease its last round took, and a wake
 * that came while it was busy. The loop (outbox-committer.ts) asks it three questions: may appends
 * claim rows, must this round look rows up first, does a wake cut the wait short. The
 * transitions, in a table: docs/commit-path.md.
 */
import { LeaseCoverage } from '../core/lease-coverage.js';

/** Where the committer's loop is. */
export type CommitterPhase =
  /** Not started, or stopping: appends claim nothing. */
  | 'stopped'
  /** In a round: taking the lease, then a publish pass. */
  | 'round'
  /** In a round, looking rows of unknown outcome up in the stream: appends claim nothing. */
  | 'looking-up'
  /** Between rounds: the idle period, or a backoff. */
  | 'waiting';

/** The whole state. Every field changes only through a {@link CommitterState} transition. */
export interface CommitterSnapshot {
  readonly phase: CommitterPhase;
  /**
   * `unknown`: `in-flight` rows whose outcome this committer does not know may exist (a crash,
   * a timeout, a takeover, a lapsed lease), so the next round looks them up before it sends.
   */
  readonly outcomes: 'known' | 'unknown';
  /** Consecutive failed rounds; the backoff grows with them. 0 once a pass went through. */
  readonly failures: number;
  /** Set when a round ended with failures: the wait is a backoff, cut short only by a reconnect. */
  readonly backingOff: boolean;
  /** The lease the last round took; once it has run out, another owner may have moved our rows. */
  readonly lease: LeaseCoverage;
  /** A wake came while the loop was not waiting: its next wait returns at once. */
  readonly wakePending: boolean;
}

/** How a lookup of unknown outcomes ended (see unknown-outcomes.ts); `thrown`: the round fails or stops. */
export type LookupEnd = 'resolved' | 'lookup-failed' | 'lease-lapsed' | 'thrown';

/** The committer's state machine; transitions are methods named after what happened. */
export class CommitterState {
  private s: CommitterSnapshot = {
    phase: 'stopped',
    outcomes: 'unknown',
    failures: 0,
    backingOff: false,
    lease: LeaseCoverage.NONE,
    wakePending: false,
  };

  /** The current state (a copy). */
  get snapshot(): CommitterSnapshot {
    return { ...this.s };
  }

  /** Where the loop is. */
  get phase(): CommitterPhase {
    return this.s.phase;
  }

  /** Consecutive failures, for the backoff. */
  get failures(): number {
    return this.s.failures;
  }

  /** Appends may claim rows: running, not backing off, no lookup running or due. */
  get appendsMayClaim(): boolean {
    const { phase, backingOff, outcomes } = this.s;
    return (phase === 'round' || phase === 'waiting') && !backingOff && outcomes === 'known';
  }

  /** The round must look unknown outcomes up before it sends. */
  get mustLookUp(): boolean {
    return this.s.outcomes === 'unknown';
  }

  /** The loop starts: nothing is known of rows left in-flight by an earlier process or run. */
  started(): void {
    this.s = { ...this.s, phase: 'round', outcomes: 'unknown' };
  }

  /** The loop is stopping (or was aborted): a claim or publish may have been cut off. Only `started` leaves it. */
  stopped(): void {
    this.set({ phase: 'stopped', outcomes: 'unknown' });
  }

  /**
   * A wake (new rows, or with `force` a reconnect). Ignored while backing off unless forced, so
   * that a stream of new rows cannot cause a hot retry loop. True when the wait is to end now.
   */
  woken(force: boolean): boolean {
    if (!force && this.s.backingOff) return false;
    this.set({ wakePending: true });
    return true;
  }

  /**
   * Rows may be `in-flight` with an outcome this committer does not know: a promotion (a
   * takeover), the lease held by another owner, claims left to a lookup.
   */
  outcomesMayBeUnknown(): void {
    this.set({ outcomes: 'unknown' });
  }

  /**
   * The round renewed the lease, covering `coverage`. Unless the last round's lease still held at
   * the renewal, there was a break in which another owner may have left rows in-flight.
   */
  leaseRenewed(coverage: LeaseCoverage): void {
    if (!this.s.lease.holds(coverage.renewedAtMs)) this.set({ outcomes: 'unknown' });
    this.set({ lease: coverage });
  }

  /**
   * A lookup of unknown outcomes begins. Outcomes count as known from here, so that a promotion
   * during it sets them unknown again.
   */
  lookupStarted(): void {
    this.set({ phase: 'looking-up', outcomes: 'known' });
  }

  /**
   * The lookup ended; unless it resolved every row, outcomes stay unknown. A failed lookup counts
   * as a failure; a thrown one is counted by `roundFailed` (or not at all when stopping).
   */
  lookupEnded(end: LookupEnd): void {
    this.set({ phase: 'round' });
    if (end === 'lookup-failed') this.set({ failures: this.s.failures + 1 });
    if (end !== 'resolved') this.set({ outcomes: 'unknown' });
  }

  /**
   * A publish pass ended. `failed`: a retryable failure stopped it (a failure; rows may be
   * in-flight unanswered). `leftInFlight`: rows it claimed stay in-flight for a lookup (a lapsed
   * lease, a stale shared ID).
   */
  passEnded(pass: { failed: boolean; leftInFlight: boolean }): void {
    if (pass.failed || pass.leftInFlight) this.set({ outcomes: 'unknown' });
    this.set({ failures: pass.failed ? this.s.failures + 1 : 0 });
  }

  /** The round returned; the loop waits (a backoff while failures remain). */
  roundEnded(): void {
    this.set({ phase: 'waiting', backingOff: this.s.failures > 0 });
  }

  /** The round threw: a failure, and nothing it held in memory can be trusted. */
  roundFailed(): void {
    this.set({ phase: 'waiting', outcomes: 'unknown', failures: this.s.failures + 1, backingOff: true });
  }

  /** The loop is about to wait: true (and the wake consumed) when a wake already came. */
  takeWake(): boolean {
    const pending = this.s.wakePending;
    this.set({ wakePending: false });
    return pending;
  }

  /** The wait ended (its time, a wake, or the abort): a wake that came during it is spent. */
  waitEnded(): void {
    this.set({ wakePending: false });
  }

  /** The next round begins. */
  roundBegan(): void {
    this.set({ phase: 'round' });
  }

  // Applies `change`; once stopped, the phase stays so until `started`.
  private set(change: Partial<CommitterSnapshot>): void {
    const phase = this.s.phase === 'stopped' ? 'stopped' : (change.phase ?? this.s.phase);
    this.s = { ...this.s, ...change, phase };
  }
}
