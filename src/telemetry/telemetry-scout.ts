/**
 * The scout: summarises telemetry into burst windows and writes the summaries of the origins it
 * owns to the outbox (kind `telemetry`, `pending-commit`; the committer publishes them).
 *
 * Failover design. Every scout keeps windows for *every* origin it hears, not only the ones it
 * owns (shadow windows; a window is a sketch and a few numbers). When a window closes, the owner
 * (rendezvous over live scouts, see ScoutDirectory) writes it; every other scout holds it for
 * `handoffHoldMs`. If during that time the owner stops heartbeating (dead, partitioned, or
 * stopped), the held windows of its origins are written by the new owner. Because the origin
 * files every point and the accumulator is order-independent, the survivor's summary is
 * byte-identical to the one the dead owner may already have published, and the shared
 * `Nats-Msg-Id` makes JetStream keep one: points in flight at the kill are counted once.
 *
 * Completeness. A summary goes out under the window's shared ID only if this scout holds every
 * batch of the window: origins number their batches and heartbeat a watermark (the last batch
 * sent), so a scout proves it has a gap-free run from before the window to past its end (see
 * BatchCoverage). A partition breaks that on both sides: at the cut, a scout misses the far
 * side's batches without knowing yet; after the heal it sees the gap. A window this scout cannot
 * prove waits (`awaiting`); one it can never complete is left to the others (`incomplete`). If
 * the origin falls silent, it is dead (publish what every scout has) or cut off from this side
 * (the scouts on its side have it): silence together with a scout's is taken as a cut.
 * Ownership alone cannot tell whether the owner's copy is whole, so at the end of the hold a
 * scout publishes its copy too (`backup`; a duplicate ID if the owner published, else the only
 * copy) when the owner's heartbeats were missing or late since the window began, or when its copy
 * is whole and it ranks second for the origin (the owner may have missed a batch alone). Each side thus publishes the
 * origins it hears, and after the heal every (origin,
 * window, metric) is stored once with all its points (within the stream's duplicate window).
 *
 * Limits: exactness needs a scout that heard the whole window and could publish it; points of
 * an origin cut off from every scout are lost (its own local scout, if it is one, keeps them;
 * otherwise they are counted as unrouted only when the gossip publish itself failed). Origins that send no
 * watermark (older versions) are closed by the timer as before: a batch later than
 * `closeSlackMs` then goes to a `straggler` summary whose ID is per scout, so it may be counted
 * by two scouts during a failover.
 */
import type { TelemetryEnvelope, TelemetrySeries } from '../core/envelope.js';
import type { NewOutboxRow } from '../core/intent.js';
import type { Clock, Outbox } from '../core/ports.js';
import { OriginStreams } from '../core/origin-streams.js';
import { LIVENESS_HEARTBEATS, ScoutDirectory } from '../core/scout-ownership.js';
import {
  buildSummary,
  buildTelemetryRow,
  summaryMsgId,
  telemetrySubject,
  type SummaryKey,
} from '../core/telemetry-summary.js';
import { tagsKey, WindowAccumulator } from '../core/telemetry-window.js';
import type { Logger } from '../observability/logger.js';
import { PeriodicTask } from '../runtime/periodic-task.js';
import type { SummaryOutcome, TelemetryMetrics } from './metrics.js';

/** Options of {@link TelemetryScout}. */
export interface TelemetryScoutOptions {
  /** This scout's peer ID. */
  peerId: string;
  clock: Clock;
  outbox: Outbox;
  /** Tells the committer that rows are waiting. */
  wakeCommitter: () => void;
  /** Subject prefix (`root.solar`) and the metric → subject map. */
  prefix: string;
  subjectMap: Readonly<Record<string, string>>;
  allowedLatenessMs: number;
  closeSlackMs: number;
  /** How long a gap in an origin's batches may stay open before this scout gives up on it. Default 3 s. */
  gapGraceMs?: number;
  /** Points per window part (`windowMaxPoints`): a full part flushes at once. */
  maxPoints: number;
  heartbeatMs: number;
  handoffHoldMs: number;
  /** First window start this scout has heard from the beginning (its announced `scoutSinceMs`). */
  sinceMs: number;
  /** Period of the close/handoff check, ms. Default 50. */
  tickMs?: number;
  logger: Logger;
  metrics?: TelemetryMetrics;
  /** Told points ingested and summaries written (the reduction factor), when given. */
  reduction?: { record(points: number, summaries: number): void };
}

interface WindowState {
  key: SummaryKey;
  acc: WindowAccumulator;
  /** When the window closes (or closed), scout clock. */
  closeAtMs: number;
  /**
   * open: taking points; awaiting: closed by the timer, not yet proven complete (still takes
   * points); held: complete, owned by another scout; done: written here; dropped: incomplete here.
   */
  phase: 'open' | 'awaiting' | 'held' | 'done' | 'dropped';
  /** Decided on a proven whole copy (every batch of the window held here), not by the timer alone. */
  whole: boolean;
  /** When a held or done window is forgotten. */
  forgetAtMs: number;
  /** Directory version at the last ownership check of a held window. */
  checkedVersion: number;
}

/** Summarises telemetry gossip for the origins this scout owns. */
export class TelemetryScout {
  readonly directory: ScoutDirectory;
  private readonly streams: OriginStreams;
  private readonly windows = new Map<string, WindowState>();
  /** msgId → close time, until its PubAck; for the window-lag metric. */
  private readonly closedAt = new Map<string, number>();
  private pending: NewOutboxRow[] = [];
  private version = 0;
  private readonly task: PeriodicTask;
  private appending: Promise<void> = Promise.resolve();
  /** The gauges' last values. */
  private readonly gauges = { windows: -1, live: -1 };

  constructor(private readonly opts: TelemetryScoutOptions) {
    this.directory = new ScoutDirectory(opts.heartbeatMs, { peerId: opts.peerId, sinceMs: opts.sinceMs });
    // A gap in an origin's batches may be reordering or a gossip repair in progress for a while.
    this.streams = new OriginStreams(opts.gapGraceMs ?? 3_000);
    this.task = new PeriodicTask({
      clock: opts.clock,
      logger: opts.logger,
      periodMs: opts.tickMs ?? 50,
      runAtStart: true,
      failureMessage: 'telemetry scout tick failed',
      round: () => this.tick(),
    });
  }

  /** Merges one telemetry batch (from gossip, or this node's own emitter). A batch seen before is skipped. */
  ingest(env: TelemetryEnvelope): void {
    const now = this.opts.clock.now();
    const verdict = this.streams.batch(env.origin, env.epoch, env.seq, env.sentAtMs, now);
    if (verdict === 'duplicate') return;
    // Before a gap this scout gave up on: those windows are incomplete here (others have them).
    if (verdict === 'outside' && this.streams.watermarked(env.origin)) {
      for (const s of env.series) this.opts.metrics?.stragglers.inc(s.ts.length);
      return;
    }
    let merged = 0;
    for (const s of env.series) merged += this.merge(env, s, now);
    this.opts.metrics?.ingested.inc(merged);
    this.opts.reduction?.record(merged, 0);
  }

  /**
   * Records a heartbeat from `peerId`: its roles (scouts), and its telemetry watermark as an
   * origin (every batch of `telemetry.epoch` up to `telemetry.seq` was sent before `atMs`).
   */
  heartbeat(
    peerId: string,
    roles: readonly string[],
    sinceMs: number | undefined,
    watermark?: { epoch: number; seq: number; atMs: number },
  ): void {
    const now = this.opts.clock.now();
    if (this.directory.heartbeat(peerId, roles, sinceMs, now)) this.version++;
    if (watermark !== undefined) this.streams.watermark(peerId, watermark.epoch, watermark.seq, watermark.atMs, now);
  }

  /** Starts the close/handoff loop. */
  start(): void {
    this.task.start();
  }

  /** Stops the loop and waits for the last rows to be stored. Open windows are left to the other scouts. Safe twice. */
  async stop(): Promise<void> {
    await this.task.stop();
    await this.writePending().catch(() => undefined);
    await this.appending;
  }

  /**
   * Decides every window still open (or awaiting its proof) now, as complete, and stores the rows.
   * Only for a node that summarises nothing but its own points and has stopped its emitter: no
   * batch of its epoch can come any more, so what it holds is the whole window (a clean stop at
   * the origin loses nothing). A scout of other origins must not: their batches may still come.
   */
  async closeAll(): Promise<void> {
    const now = this.opts.clock.now();
    for (const w of this.windows.values())
      if (w.phase === 'open' || w.phase === 'awaiting') this.decide(w, now, 'complete');
    await this.writePending();
  }

  /** Close time of a window starting at `windowStart` of length `windowMs`. */
  closeAt(windowStart: number, windowMs: number): number {
    return windowStart + windowMs + this.opts.allowedLatenessMs + this.opts.closeSlackMs;
  }

  /**
   * Called with PubAcked message IDs; records and returns the window lag (close to PubAck, ms)
   * of those that are summaries this scout wrote.
   */
  onCommitted(ids: Iterable<string>, atMs: number): number[] {
    const lags: number[] = [];
    for (const id of ids) {
      const closed = this.closedAt.get(id);
      if (closed === undefined) continue;
      this.closedAt.delete(id);
      const lag = Math.max(0, atMs - closed);
      lags.push(lag);
      this.opts.metrics?.windowLag.observe(lag / 1000);
    }
    return lags;
  }

  /** True when `msgId` is a summary this scout wrote and has not seen acknowledged yet. */
  isOwnSummary(msgId: string): boolean {
    return this.closedAt.has(msgId);
  }

  /** Closes due windows, hands over held ones, writes rows. Exposed for tests (manual clock). */
  async tick(): Promise<void> {
    const now = this.opts.clock.now();
    if (this.directory.expire(now).length > 0) this.version++;
    const givenUp = this.streams.settle(now);
    if (givenUp > 0) this.opts.metrics?.gaps.inc(givenUp);
    for (const [id, w] of this.windows) {
      if ((w.phase === 'open' && now >= w.closeAtMs) || w.phase === 'awaiting') this.close(w, now);
      else if (w.phase === 'held' && w.checkedVersion !== this.version) this.recheck(w, now);
      if (w.phase !== 'open' && w.phase !== 'awaiting' && now >= w.forgetAtMs) {
        if (w.phase === 'held') this.release(w, now);
        this.windows.delete(id);
      }
    }
    this.streams.prune(now, Math.max(60_000, 4 * this.opts.handoffHoldMs));
    // Set on change only: an idle node ticks many times a second, and a gauge set is not free.
    const live = this.directory.live(now).length;
    if (this.gauges.windows !== this.windows.size) {
      this.gauges.windows = this.windows.size;
      this.opts.metrics?.windows.set(this.windows.size);
    }
    if (this.gauges.live !== live) {
      this.gauges.live = live;
      this.opts.metrics?.liveScouts.set(live);
    }
    await this.writePending();
  }

  /** A snapshot for status and tests. */
  snapshot(): { windows: number; liveScouts: string[]; sinceMs: number } {
    return {
      windows: this.windows.size,
      liveScouts: this.directory.live(this.opts.clock.now()),
      sinceMs: this.opts.sinceMs,
    };
  }

  // Adds a series chunk to its window; returns the points summarised (0 when the window was decided here already).
  private merge(env: TelemetryEnvelope, s: TelemetrySeries, now: number): number {
    const tags = s.tags ?? {};
    const base =
      `${env.origin}\u0000${env.epoch}\u0000${s.metric}\u0000${tagsKey(tags)}\u0000` +
      `${s.window}\u0000${env.windowMs}\u0000${s.part}\u0000${s.late === true ? 'L' : ''}`;
    let w = this.windows.get(base);
    const closeAtMs = this.closeAt(s.window, env.windowMs);
    // With watermarks a window is decided by its batches, not by the timer: one that comes late
    // (all its batches delayed) still opens, and is decided at the next tick.
    const legacy = !this.streams.watermarked(env.origin);
    if (w === undefined && (now < closeAtMs || !legacy)) {
      w = this.open(base, summaryKey(env, s, tags), closeAtMs);
    } else if (w === undefined || (w.phase !== 'open' && w.phase !== 'awaiting')) {
      this.opts.metrics?.stragglers.inc(s.ts.length);
      // Decided already. With watermarks that was on a whole copy (or it is incomplete here):
      // nothing of it is missing. Without, these points go to this scout's straggler summary.
      if (!legacy) return 0;
      const id = `${base}\u0000S`;
      w = this.windows.get(id);
      if (w === undefined || w.phase !== 'open') {
        const key = summaryKey(env, s, tags, this.opts.peerId);
        w = this.open(w === undefined ? id : `${id}\u0000${now}`, key, now + this.opts.closeSlackMs);
      }
    }
    w.acc.addColumns(s.ts, s.v);
    // A part holds at most maxPoints points (origin ordinals), so a full part is complete.
    if (w.key.straggler === undefined && w.acc.count >= this.opts.maxPoints) this.decide(w, now, 'complete');
    return s.ts.length;
  }

  private open(id: string, key: SummaryKey, closeAtMs: number): WindowState {
    const w: WindowState = {
      key,
      acc: new WindowAccumulator(),
      closeAtMs,
      phase: 'open',
      whole: false,
      forgetAtMs: 0,
      checkedVersion: -1,
    };
    this.windows.set(id, w);
    return w;
  }

  // At or after the close time: is this copy whole? Pending ones wait for the proof.
  private close(w: WindowState, now: number): void {
    const k = w.key;
    let coverage =
      k.straggler === undefined
        ? this.streams.coverage(
            k.origin,
            k.epoch,
            k.windowStart,
            k.windowStart + k.windowMs + this.opts.allowedLatenessMs,
          )
        : 'legacy';
    // An origin that restarted sends nothing more for its old epoch: unless a batch is still
    // missing here, every scout has what came.
    if (
      coverage === 'pending' &&
      this.streams.superseded(k.origin, k.epoch) &&
      !this.streams.gapOpen(k.origin, k.epoch)
    )
      coverage = 'complete';
    if (coverage === 'pending') {
      const heard = this.streams.lastHeardMs(k.origin) ?? 0;
      const silent = now - heard > (LIVENESS_HEARTBEATS + 1) * this.opts.heartbeatMs;
      if (!silent && now < w.closeAtMs + 3 * this.opts.handoffHoldMs) {
        w.phase = 'awaiting';
        return;
      }
      // The origin fell silent: dead (every scout has what it sent), or cut off from this side
      // (a scout on its side has more). Silence shared with a scout's says cut off.
      coverage = silent && !this.directory.churnSince(heard, now) ? 'complete' : 'incomplete';
    }
    this.decide(w, now, coverage);
  }

  private decide(w: WindowState, now: number, coverage: 'complete' | 'incomplete' | 'legacy'): void {
    w.forgetAtMs = Math.max(w.closeAtMs, now) + this.opts.handoffHoldMs;
    if (coverage === 'incomplete') {
      w.phase = 'dropped';
      this.count('incomplete');
      return;
    }
    w.whole = coverage === 'complete';
    w.checkedVersion = this.version;
    if (this.owns(w, now)) this.emit(w, now, 'published');
    else w.phase = 'held';
  }

  // End of the hold of a copy owned by another scout: publish it too when the owner's heartbeats
  // were missing or late since the window began (its copy may lack batches), and, for a proven
  // whole copy, always when this scout ranks second: the owner may have missed a batch alone and
  // given the window up, which nothing tells the others. A whole copy is the same summary under
  // the same ID, so JetStream keeps one.
  private release(w: WindowState, now: number): void {
    const { origin, windowStart, windowMs } = w.key;
    const owner = this.directory.owner(origin, windowStart, now);
    const doubtful = owner !== null && this.directory.doubtful(owner, windowStart - windowMs, now);
    if (doubtful || (w.whole && this.directory.runnerUp(origin, windowStart, now) === this.opts.peerId))
      this.emit(w, now, 'backup');
    else this.count('handed-off');
  }

  private recheck(w: WindowState, now: number): void {
    w.checkedVersion = this.version;
    if (this.owns(w, now)) {
      this.opts.logger.info(
        { origin: w.key.origin, windowStart: w.key.windowStart, metric: w.key.metric },
        'took over a held window',
      );
      this.emit(w, now, 'taken-over');
    }
  }

  private owns(w: WindowState, now: number): boolean {
    return this.directory.owner(w.key.origin, w.key.windowStart, now) === this.opts.peerId;
  }

  private emit(w: WindowState, now: number, outcome: SummaryOutcome): void {
    w.phase = 'done';
    const msgId = summaryMsgId(w.key);
    const body = buildSummary(w.key, w.acc.stats());
    const subject = telemetrySubject(w.key.metric, this.opts.prefix, this.opts.subjectMap);
    this.pending.push(
      buildTelemetryRow({ subject, msgId, body, origin: w.key.origin, publisher: this.opts.peerId, createdAtMs: now }),
    );
    if (this.closedAt.size < 100_000) this.closedAt.set(msgId, now);
    this.count(outcome);
    this.opts.reduction?.record(0, 1);
  }

  private count(outcome: SummaryOutcome): void {
    this.opts.metrics?.summaries.inc({ outcome });
  }

  private async writePending(): Promise<void> {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    this.appending = this.appending.then(async () => {
      try {
        await this.opts.outbox.append(rows);
        this.opts.wakeCommitter();
      } catch (err) {
        // Data at risk: the rows are not stored. Keep them for the next tick.
        this.opts.logger.error({ err, rows: rows.length }, 'could not store telemetry summaries; retrying');
        this.pending.unshift(...rows);
      }
    });
    await this.appending;
  }
}

// The summary a series chunk belongs to; with `straggler`, this scout's straggler summary of it.
function summaryKey(
  env: TelemetryEnvelope,
  s: TelemetrySeries,
  tags: Readonly<Record<string, string>>,
  straggler?: string,
): SummaryKey {
  return {
    metric: s.metric,
    origin: env.origin,
    epoch: env.epoch,
    tags,
    windowStart: s.window,
    windowMs: env.windowMs,
    part: s.part,
    late: s.late === true,
    ...(straggler === undefined ? {} : { straggler }),
  };
}
