/**
 * How long a commit takes to be seen here after quorum, smoothed as TCP smooths round trips
 * (RFC 6298: srtt + 4 × rttvar). The takeover step is the longer of `consensus.takeoverMs` and
 * that estimate, capped: under load a live committer's `intent.committed` arrives late, and a
 * fixed 500 ms step then sent every lower rank into a takeover (a promotion, signature checks and
 * a stream lookup each) for intents already on their way, which added load to a loaded cluster.
 * A dead committer is still replaced after about `takeoverMs` when commits are quick, and after
 * at most `capFactor` × `takeoverMs` however slow they were.
 */

/** Options of {@link CommitDelayEstimate}. */
export interface CommitDelayOptions {
  /** The configured takeover step, ms: the floor of the estimate. */
  takeoverMs: number;
  /** The step never exceeds `capFactor` × `takeoverMs`. Default 10. */
  capFactor?: number;
}

/** Smoothed quorum → commit-seen delay, and the takeover step it implies. */
export class CommitDelayEstimate {
  private srtt: number | null = null;
  private rttvar = 0;

  constructor(private readonly opts: CommitDelayOptions) {}

  /** One observation: a peer's commit of an intent was seen `delayMs` after this node held its quorum. */
  observe(delayMs: number): void {
    const r = Math.max(0, delayMs);
    if (this.srtt === null) {
      this.srtt = r;
      this.rttvar = r / 2;
      return;
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
    this.srtt = 0.875 * this.srtt + 0.125 * r;
  }

  /** Wait per rank before a lower-ranked endorser takes over, ms. */
  stepMs(): number {
    const { takeoverMs, capFactor = 10 } = this.opts;
    if (this.srtt === null) return takeoverMs;
    return Math.min(capFactor * takeoverMs, Math.max(takeoverMs, this.srtt + 4 * this.rttvar));
  }
}
