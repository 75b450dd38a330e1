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
 * A partition works the same way: each side owns what it hears; after the heal, overlapping
 * windows carry the same ID, so none is counted twice (within the stream's duplicate window).
 *
 * Limits: exactness needs every scout that may publish a window to have received all of its
 * batches (gossip lost to one scout shows as `gaps`), and batches to arrive within
 * `closeSlackMs` of the window's end (later ones are `straggler` summaries: counted, but their
 * ID is per scout, so a straggler during a failover may be counted by both scouts).
 */
import type { TelemetryEnvelope, TelemetrySeries } from '../core/envelope.js';
import type { NewOutboxRow } from '../core/intent.js';
import type { Clock, Outbox } from '../core/ports.js';
import { ScoutDirectory } from '../core/scout-ownership.js';
import { buildSummary, buildTelemetryRow, summaryMsgId, telemetrySubject, type SummaryKey } from '../core/telemetry-summary.js';
import { tagsKey, WindowAccumulator } from '../core/telemetry-window.js';
import type { Logger } from '../observability/logger.js';
import type { SummaryOutcome, TelemetryMetrics } from './telemetry-metrics.js';

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
  phase: 'open' | 'held' | 'done';
  /** When a held or done window is forgotten. */
  forgetAtMs: number;
  /** Directory version at the last ownership check of a held window. */
  checkedVersion: number;
}

/** Summarises telemetry gossip for the origins this scout owns. */
export class TelemetryScout {
  readonly directory: ScoutDirectory;
  private readonly windows = new Map<string, WindowState>();
  private readonly lastSeq = new Map<string, { epoch: number; seq: number }>();
  /** msgId → close time, until its PubAck; for the window-lag metric. */
  private readonly closedAt = new Map<string, number>();
  private pending: NewOutboxRow[] = [];
  private version = 0;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private appending: Promise<void> = Promise.resolve();

  constructor(private readonly opts: TelemetryScoutOptions) {
    this.directory = new ScoutDirectory(opts.heartbeatMs, { peerId: opts.peerId, sinceMs: opts.sinceMs });
  }

  /** Merges one telemetry batch (from gossip, or this node's own emitter). */
  ingest(env: TelemetryEnvelope): void {
    const now = this.opts.clock.now();
    this.trackSeq(env);
    let points = 0;
    for (const s of env.series) {
      points += s.ts.length;
      this.merge(env, s, now);
    }
    this.opts.metrics?.ingested.inc(points);
    this.opts.reduction?.record(points, 0);
  }

  /** Records a heartbeat from `peerId`. */
  heartbeat(peerId: string, roles: readonly string[], sinceMs: number | undefined): void {
    if (this.directory.heartbeat(peerId, roles, sinceMs, this.opts.clock.now())) this.version++;
  }

  /** Starts the close/handoff loop. */
  start(): void {
    if (this.loop !== null) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  /** Stops the loop and waits for the last rows to be stored. Open windows are left to the other scouts. Safe twice. */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = null;
    await this.appending;
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
    for (const [id, w] of this.windows) {
      if (w.phase === 'open' && now >= w.closeAtMs) this.close(w, now);
      else if (w.phase === 'held' && w.checkedVersion !== this.version) this.recheck(w, now);
      if (w.phase !== 'open' && now >= w.forgetAtMs) {
        if (w.phase === 'held') this.count('handed-off');
        this.windows.delete(id);
      }
    }
    this.opts.metrics?.windows.set(this.windows.size);
    this.opts.metrics?.liveScouts.set(this.directory.live(now).length);
    await this.writePending();
  }

  /** A snapshot for status and tests. */
  snapshot(): { windows: number; liveScouts: string[]; sinceMs: number } {
    return { windows: this.windows.size, liveScouts: this.directory.live(this.opts.clock.now()), sinceMs: this.opts.sinceMs };
  }

  private merge(env: TelemetryEnvelope, s: TelemetrySeries, now: number): void {
    const tags = s.tags ?? {};
    const base = `${env.origin}\u0000${env.epoch}\u0000${s.metric}\u0000${tagsKey(tags)}\u0000${s.window}\u0000${env.windowMs}\u0000${s.part}\u0000${s.late === true ? 'L' : ''}`;
    let w = this.windows.get(base);
    const closeAtMs = this.closeAt(s.window, env.windowMs);
    if (w === undefined && now < closeAtMs) {
      const key: SummaryKey = { metric: s.metric, origin: env.origin, epoch: env.epoch, tags, windowStart: s.window, windowMs: env.windowMs, part: s.part, late: s.late === true };
      w = this.open(base, key, closeAtMs);
    } else if (w === undefined || w.phase !== 'open') {
      // After the window closed here: counted in this scout's straggler summary of the window.
      this.opts.metrics?.stragglers.inc(s.ts.length);
      const id = `${base}\u0000S`;
      w = this.windows.get(id);
      if (w === undefined || w.phase !== 'open') {
        const key: SummaryKey = { metric: s.metric, origin: env.origin, epoch: env.epoch, tags, windowStart: s.window, windowMs: env.windowMs, part: s.part, late: s.late === true, straggler: this.opts.peerId };
        w = this.open(w === undefined ? id : `${id}\u0000${now}`, key, now + this.opts.closeSlackMs);
      }
    }
    w.acc.addColumns(s.ts, s.v);
    // A part holds at most maxPoints points (origin ordinals), so a full part is complete.
    if (w.key.straggler === undefined && w.acc.count >= this.opts.maxPoints) this.close(w, now);
  }

  private open(id: string, key: SummaryKey, closeAtMs: number): WindowState {
    const w: WindowState = { key, acc: new WindowAccumulator(), closeAtMs, phase: 'open', forgetAtMs: 0, checkedVersion: -1 };
    this.windows.set(id, w);
    return w;
  }

  private close(w: WindowState, now: number): void {
    w.forgetAtMs = Math.max(w.closeAtMs, now) + this.opts.handoffHoldMs;
    w.checkedVersion = this.version;
    if (this.owns(w, now)) this.emit(w, now, 'published');
    else w.phase = 'held';
  }

  private recheck(w: WindowState, now: number): void {
    w.checkedVersion = this.version;
    if (this.owns(w, now)) {
      this.opts.logger.info({ origin: w.key.origin, windowStart: w.key.windowStart, metric: w.key.metric }, 'took over a held window');
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
    this.pending.push(buildTelemetryRow({ subject, msgId, body, origin: w.key.origin, publisher: this.opts.peerId, createdAtMs: now }));
    if (this.closedAt.size < 100_000) this.closedAt.set(msgId, now);
    this.count(outcome);
    this.opts.reduction?.record(0, 1);
  }

  private count(outcome: SummaryOutcome): void {
    this.opts.metrics?.summaries.inc({ outcome });
  }

  private trackSeq(env: TelemetryEnvelope): void {
    const last = this.lastSeq.get(env.origin);
    if (last !== undefined && last.epoch === env.epoch && env.seq > last.seq + 1) this.opts.metrics?.gaps.inc(env.seq - last.seq - 1);
    if (last === undefined || last.epoch !== env.epoch || env.seq > last.seq) this.lastSeq.set(env.origin, { epoch: env.epoch, seq: env.seq });
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

  private async run(signal: AbortSignal): Promise<void> {
    const tickMs = this.opts.tickMs ?? 50;
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (err) {
        this.opts.logger.warn({ err }, 'telemetry scout tick failed');
      }
      try {
        await this.opts.clock.sleep(tickMs, signal);
      } catch {
        break; // aborted
      }
    }
    await this.writePending().catch(() => undefined);
  }
}
