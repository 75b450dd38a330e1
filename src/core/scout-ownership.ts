/**
 * Which scout owns an origin: rendezvous (highest random weight) hashing over the live scouts.
 * Scouts announce themselves in heartbeats; one is live while its heartbeats arrive within
 * `3 × heartbeatMs` (on the receiver's clock, so sender clock skew does not matter). A window
 * is only assigned to scouts whose `scoutSinceMs` is at or before its start: a scout that
 * joined mid-window never owns a window it saw half of. Removing a scout moves only its own
 * origins; adding one takes over only the origins it now ranks first for.
 *
 * The directory also remembers how steady each scout's heartbeats have been: a scout that was
 * gone or late since a window began may have missed batches of that window (a partition cuts
 * its heartbeats and the origins' batches alike), so the scouts holding the window publish it
 * too rather than trust the owner's copy (see TelemetryScout).
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** Heartbeats missed before a scout counts as gone. */
export const LIVENESS_HEARTBEATS = 3;

interface ScoutEntry {
  lastSeenMs: number;
  sinceMs: number;
  /** Arrival of the first heartbeat of its current run of timely ones (after an absence or a late one). */
  steadySinceMs: number;
  /** Counted as gone (by `expire`); the entry stays a while for `churnSince`. */
  gone: boolean;
}

/** A heartbeat later than this many intervals after the previous one starts a new steady run. */
const LATE_HEARTBEATS = 1.5;

const encoder = new TextEncoder();

/** Rendezvous weight of `scout` for `origin`: the first 48 bits of SHA-256(origin, scout). */
export function rendezvousWeight(origin: string, scout: string): number {
  const h = sha256(encoder.encode(`${origin}\n${scout}`));
  return ((h[0]! * 256 + h[1]!) * 256 + h[2]!) * 16_777_216 + ((h[3]! * 256 + h[4]!) * 256 + h[5]!);
}

/** The scout with the highest weight for `origin` (ties: the smaller ID), or null when none. */
export function rendezvousOwner(origin: string, scouts: Iterable<string>, weight = rendezvousWeight): string | null {
  let best: string | null = null;
  let bestW = -1;
  for (const s of scouts) {
    const w = weight(origin, s);
    if (w > bestW || (w === bestW && best !== null && s < best)) {
      best = s;
      bestW = w;
    }
  }
  return best;
}

/** The live scouts as one node sees them, and ownership derived from them. Pure. */
export class ScoutDirectory {
  private readonly scouts = new Map<string, ScoutEntry>();
  private readonly weights = new Map<string, number>();
  private readonly livenessMs: number;
  private readonly lateMs: number;
  // Gone scouts are remembered this long, so that churn around an origin's silence stays visible.
  private readonly retainMs: number;

  /** `self` is this node's ID and `selfSinceMs` its coverage start, when it is a scout itself. */
  constructor(
    heartbeatMs: number,
    private readonly self: { peerId: string; sinceMs: number } | null,
  ) {
    this.livenessMs = LIVENESS_HEARTBEATS * heartbeatMs;
    this.lateMs = LATE_HEARTBEATS * heartbeatMs;
    this.retainMs = 20 * this.livenessMs;
  }

  /**
   * Records a heartbeat received at `nowMs`. A heartbeat without the `scout` role removes the
   * sender (a scout that stops announces it, so its origins move at once). Returns true when the
   * live set changed.
   */
  heartbeat(peerId: string, roles: readonly string[], sinceMs: number | undefined, nowMs: number): boolean {
    if (this.self !== null && peerId === this.self.peerId) return false;
    const known = this.scouts.get(peerId);
    if (!roles.includes('scout')) return this.scouts.delete(peerId) && !known!.gone;
    const sinceEff = sinceMs ?? 0;
    const late = known === undefined || nowMs - known.lastSeenMs > this.lateMs;
    this.scouts.set(peerId, {
      lastSeenMs: nowMs,
      sinceMs: sinceEff,
      steadySinceMs: late ? nowMs : known.steadySinceMs,
      gone: false,
    });
    return known === undefined || known.lastSeenMs < nowMs - this.livenessMs || known.sinceMs !== sinceEff;
  }

  /**
   * Counts scouts whose last heartbeat is older than the liveness limit as gone, and returns the
   * IDs that are newly gone. Gone scouts are forgotten after 20 liveness periods.
   */
  expire(nowMs: number): string[] {
    const gone: string[] = [];
    for (const [id, e] of this.scouts) {
      if (e.lastSeenMs >= nowMs - this.livenessMs) continue;
      if (!e.gone) gone.push(id);
      e.gone = true;
      if (e.lastSeenMs < nowMs - this.retainMs) this.scouts.delete(id);
    }
    return gone;
  }

  /**
   * True when `peerId`'s copy of a window that began at `sinceMs` may lack batches: it is not a
   * live scout now, or its heartbeats were missing or late at some point since `sinceMs`.
   */
  doubtful(peerId: string, sinceMs: number, nowMs: number): boolean {
    if (this.self !== null && peerId === this.self.peerId) return false;
    const e = this.scouts.get(peerId);
    return e === undefined || e.lastSeenMs < nowMs - this.livenessMs || e.steadySinceMs > sinceMs;
  }

  /**
   * True when another scout went silent or came back late around or after `sinceMs`: a sign of
   * a partition rather than of one dead node (an origin falling silent at the same time as a
   * scout is more likely cut off from this side than dead).
   */
  churnSince(sinceMs: number, nowMs: number): boolean {
    for (const e of this.scouts.values()) {
      const live = e.lastSeenMs >= nowMs - this.livenessMs;
      if (live ? e.steadySinceMs > sinceMs : e.lastSeenMs >= sinceMs - this.livenessMs) return true;
    }
    return false;
  }

  /** Live scouts, this node first when it is one. */
  live(nowMs: number): string[] {
    const out = this.self === null ? [] : [this.self.peerId];
    for (const [id, e] of this.scouts) if (e.lastSeenMs >= nowMs - this.livenessMs) out.push(id);
    return out;
  }

  /**
   * The owner of (`origin`, window starting at `windowStart`): rendezvous over the live scouts
   * eligible for that window, or over all live scouts when none is eligible yet (start-up).
   */
  owner(origin: string, windowStart: number, nowMs: number): string | null {
    return rendezvousOwner(origin, this.candidates(windowStart, nowMs), (o, s) => this.weight(o, s));
  }

  /** The scout ranked second for the window (the owner if it were gone), or null when there is none. */
  runnerUp(origin: string, windowStart: number, nowMs: number): string | null {
    const candidates = this.candidates(windowStart, nowMs);
    const owner = rendezvousOwner(origin, candidates, (o, s) => this.weight(o, s));
    return rendezvousOwner(
      origin,
      candidates.filter((s) => s !== owner),
      (o, s) => this.weight(o, s),
    );
  }

  // Live scouts eligible for a window starting at `windowStart`; all live ones when none is yet.
  private candidates(windowStart: number, nowMs: number): string[] {
    const eligible: string[] = [];
    const all: string[] = [];
    if (this.self !== null) {
      all.push(this.self.peerId);
      if (this.self.sinceMs <= windowStart) eligible.push(this.self.peerId);
    }
    for (const [id, e] of this.scouts) {
      if (e.lastSeenMs < nowMs - this.livenessMs) continue;
      all.push(id);
      if (e.sinceMs <= windowStart) eligible.push(id);
    }
    return eligible.length > 0 ? eligible : all;
  }

  private weight(origin: string, scout: string): number {
    const k = `${origin}\n${scout}`;
    let w = this.weights.get(k);
    if (w === undefined) {
      if (this.weights.size > 100_000) this.weights.clear(); // bounded cache
      w = rendezvousWeight(origin, scout);
      this.weights.set(k, w);
    }
    return w;
  }
}
