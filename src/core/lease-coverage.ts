/**
 * The publisher lease's coverage rule, in one place: a claimed row may be sent only while the
 * lease renewed by its claim still has the send margin left, and put back to pending only while
 * that lease holds at all. Past that, another owner may have taken the lease and handled the row,
 * so it is left `in-flight` for a stream lookup. See docs/commit-path.md.
 */

/** `nats.publishTimeoutMs`'s default: a send must land, or time out, within this margin. */
export const DEFAULT_SEND_MARGIN_MS = 5_000;

/**
 * The shortest lease: twice the default send margin, so that a claimed row has as long again to
 * reach its send as the send itself may take.
 */
export const MIN_LEASE_TTL_MS = 10_000;

/**
 * The stretch of time one renewal of the lease covers: from `renewedAtMs` until `untilMs`.
 * A value; it never changes once made.
 */
export class LeaseCoverage {
  /** Coverage that never ends: a caller that answers for the lease itself (reconcile). */
  static readonly UNBOUNDED = new LeaseCoverage(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 0);
  /** Coverage that has already ended: no lease taken yet. */
  static readonly NONE = new LeaseCoverage(0, 0, 0);

  /**
   * @param renewedAtMs wall-clock ms of the renewal
   * @param untilMs wall-clock ms at which the lease runs out unless renewed again
   * @param sendMarginMs what a send needs left (the publish timeout)
   */
  constructor(
    readonly renewedAtMs: number,
    readonly untilMs: number,
    private readonly sendMarginMs: number,
  ) {}

  /** True while the lease is still ours at `atMs`: no other owner can have touched rows claimed under it. */
  holds(atMs: number): boolean {
    return atMs < this.untilMs;
  }

  /**
   * True while at `atMs` the lease has at least the send margin left: a send started now lands
   * (or times out) before the lease runs out, and so does a write that stands in for one.
   */
  holdsWithMargin(atMs: number): boolean {
    return atMs < this.untilMs - this.sendMarginMs;
  }
}

/** What {@link LeaseTerms.from} takes; both optional, with the defaults above. */
export interface LeaseTermsInput {
  /** Lease lifetime per renewal. Default: the larger of {@link MIN_LEASE_TTL_MS} and twice `sendMarginMs`. */
  ttlMs?: number | undefined;
  /** See {@link LeaseCoverage.holdsWithMargin}. Default {@link DEFAULT_SEND_MARGIN_MS}. */
  sendMarginMs?: number | undefined;
}

/** The lease's lifetime and send margin, and the coverage each renewal or claim gives. */
export class LeaseTerms {
  /** Lease lifetime per renewal, ms. */
  readonly ttlMs: number;
  /** What a send needs left of the lease, ms. */
  readonly sendMarginMs: number;

  /** Terms as given; {@link LeaseTerms.from} also fills in defaults and checks them. */
  constructor(ttlMs: number, sendMarginMs: number) {
    this.ttlMs = ttlMs;
    this.sendMarginMs = sendMarginMs;
  }

  /** Terms with the defaults filled in; throws when the lifetime does not exceed the margin. */
  static from(input: LeaseTermsInput): LeaseTerms {
    const sendMarginMs = input.sendMarginMs ?? DEFAULT_SEND_MARGIN_MS;
    const ttlMs = input.ttlMs ?? Math.max(MIN_LEASE_TTL_MS, 2 * sendMarginMs);
    // A lease no longer than the margin would never let a claimed row be sent.
    if (ttlMs <= sendMarginMs) throw new Error(`leaseTtlMs (${ttlMs}) must exceed sendMarginMs (${sendMarginMs})`);
    return new LeaseTerms(ttlMs, sendMarginMs);
  }

  /** The coverage of a renewal at `atMs`. */
  renewedAt(atMs: number): LeaseCoverage {
    return new LeaseCoverage(atMs, atMs + this.ttlMs, this.sendMarginMs);
  }

  /**
   * The coverage of a row's claim: its claim renewed the lease at its last attempt (a claim
   * transaction, or the append that claimed it).
   */
  ofClaim(row: { lastAttemptAtMs: number | null }): LeaseCoverage {
    return this.renewedAt(row.lastAttemptAtMs ?? 0);
  }
}
