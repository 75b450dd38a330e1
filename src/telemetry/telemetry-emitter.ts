/**
 * The origin side of telemetry: takes the local agent's points, files them into windows
 * (SeriesAssigner) and sends them as few `telemetry` gossip messages: every `batchMs`, or at
 * once when `batchMaxPoints` are queued. The same envelope goes to the local scout directly
 * (gossip does not echo our own messages), so a scout counts its own agent's points exactly
 * like everyone else's.
 */
import { MAX_TELEMETRY_SERIES, type TelemetryEnvelope, type TelemetrySeries } from '../core/envelope.js';
import { hasCode, NetSyncError } from '../core/errors.js';
import type { Clock, Gossip } from '../core/ports.js';
import { SeriesAssigner, type WindowRules } from '../core/telemetry-window.js';
import type { TelemetryPoint } from '../core/telemetry-point.js';
import type { Logger } from '../observability/logger.js';
import type { TelemetryMetrics } from './metrics.js';

/** Options of {@link TelemetryEmitter}. */
export interface TelemetryEmitterOptions {
  /** This node's peer ID (the `origin` of its points). */
  origin: string;
  clock: Clock;
  rules: WindowRules;
  /** Batching period, ms. */
  batchMs: number;
  /** Points per gossip message. */
  batchMaxPoints: number;
  /** Points queued before `accept` refuses more. */
  maxQueuedPoints: number;
  /** The mesh, or null when it is off (then only the local scout hears the points). */
  gossip: Gossip | null;
  /** The local scout's ingest, when this node is a scout. */
  localScout: ((envelope: TelemetryEnvelope) => void) | null;
  /**
   * False when this node (not a scout) has heard no live scout on the mesh for a while: its
   * gossip then reaches nobody who summarises it, and the points are counted as unrouted.
   * Default: always true.
   */
  scoutsHeard?: () => boolean;
  logger: Logger;
  metrics?: TelemetryMetrics;
}

/** Batches the local agent's points into telemetry gossip. */
export class TelemetryEmitter {
  private readonly assigner: SeriesAssigner;
  /** The origin's epoch: its start time; part ordinals restart with it. */
  readonly epoch: number;
  private queue: TelemetryPoint[] = [];
  private seq = 0;
  private timer: AbortController | null = null;
  private readonly sending = new Set<Promise<void>>();
  private stopped = false;
  private unloggedLost = 0;
  private lostLoggedAtMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: TelemetryEmitterOptions) {
    this.assigner = new SeriesAssigner(opts.rules);
    this.epoch = opts.clock.now();
  }

  /**
   * Queues validated points. Throws MESH_PUBLISH (a 503 to the agent) when the queue is full
   * or the emitter has stopped; the points are then not accepted.
   */
  accept(points: readonly TelemetryPoint[]): number {
    if (this.stopped) throw new NetSyncError('MESH_PUBLISH', 'telemetry is stopping');
    if (this.queue.length + points.length > this.opts.maxQueuedPoints) {
      this.opts.metrics?.refused.inc(points.length);
      throw new NetSyncError('MESH_PUBLISH', `telemetry queue full (${this.queue.length} points); retry later`);
    }
    for (const p of points) this.queue.push(p);
    this.opts.metrics?.accepted.inc(points.length);
    if (this.queue.length >= this.opts.batchMaxPoints) this.flush();
    else if (this.timer === null) this.arm();
    return points.length;
  }

  /** Sends everything queued now. */
  flush(): void {
    this.timer?.abort();
    this.timer = null;
    if (this.queue.length === 0) return;
    const points = this.queue;
    this.queue = [];
    const now = this.opts.clock.now();
    for (const envelope of this.pack(this.assigner.assign(points, now), now)) this.send(envelope);
  }

  /** The last batch sent (`seq` in `epoch`), or null before the first: the origin's watermark in heartbeats. */
  watermark(): { epoch: number; seq: number } | null {
    return this.seq === 0 ? null : { epoch: this.epoch, seq: this.seq - 1 };
  }

  /** Sends what is queued and waits for the gossip publishes to settle. Safe twice. */
  async stop(): Promise<void> {
    this.flush();
    this.stopped = true;
    await Promise.allSettled([...this.sending]);
  }

  private send(envelope: TelemetryEnvelope): void {
    const points = envelope.series.reduce((n, s) => n + s.ts.length, 0);
    this.opts.localScout?.(envelope);
    const gossip = this.opts.gossip;
    if (gossip === null) {
      if (this.opts.localScout === null) this.lost(points, 'no mesh and no local scout');
      return;
    }
    // Still gossiped: a scout may be starting. Counted (once), since none is known to hear it.
    const unheard = this.opts.localScout === null && this.opts.scoutsHeard?.() === false;
    if (unheard) this.lost(points, 'no live scout heard on the mesh');
    const sent = gossip.publish(envelope).then(
      () => this.opts.metrics?.gossipMessages.inc(),
      (err: unknown) => {
        // No peer subscribed: only the local scout (if any) has these points; it publishes them
        // if it owns the origin or ranks second for it (a whole copy), else they are lost here.
        if (this.opts.localScout === null && !unheard)
          this.lost(points, hasCode(err, 'MESH_PUBLISH') ? err.message : String(err));
        else this.opts.logger.debug({ err, points }, 'telemetry gossip failed; local scout has the points');
      },
    );
    this.sending.add(sent);
    void sent.finally(() => this.sending.delete(sent));
  }

  // Counted every time, logged at most every 10 s (a mesh without scouts would warn 10 times a second).
  private lost(points: number, reason: string): void {
    this.opts.metrics?.lost.inc(points);
    this.unloggedLost += points;
    const now = this.opts.clock.now();
    if (now - this.lostLoggedAtMs < 10_000) return;
    this.opts.logger.warn({ points: this.unloggedLost, reason }, 'telemetry points reached no scout');
    this.unloggedLost = 0;
    this.lostLoggedAtMs = now;
  }

  // Splits chunks into envelopes of at most batchMaxPoints points and MAX_TELEMETRY_SERIES series.
  private pack(chunks: TelemetrySeries[], now: number): TelemetryEnvelope[] {
    const out: TelemetryEnvelope[] = [];
    let series: TelemetrySeries[] = [];
    let room = this.opts.batchMaxPoints;
    const close = (): void => {
      if (series.length === 0) return;
      out.push({
        schemaVersion: 1,
        kind: 'telemetry',
        origin: this.opts.origin,
        epoch: this.epoch,
        seq: this.seq++,
        sentAtMs: now,
        windowMs: this.opts.rules.windowMs,
        series,
      });
      series = [];
      room = this.opts.batchMaxPoints;
    };
    for (const chunk of chunks) {
      let rest = chunk;
      while (rest.ts.length > 0) {
        if (room === 0 || series.length === MAX_TELEMETRY_SERIES) close();
        const take = Math.min(room, rest.ts.length);
        // Views, not copies: encodeEnvelope packs a view's bytes only.
        series.push(
          take === rest.ts.length ? rest : { ...rest, ts: rest.ts.subarray(0, take), v: rest.v.subarray(0, take) },
        );
        rest = { ...rest, ts: rest.ts.subarray(take), v: rest.v.subarray(take) };
        room -= take;
      }
    }
    close();
    return out;
  }

  private arm(): void {
    const timer = new AbortController();
    this.timer = timer;
    this.opts.clock.sleep(this.opts.batchMs, timer.signal).then(
      () => {
        if (this.timer === timer) this.flush();
      },
      (err: unknown) => {
        if (!hasCode(err, 'ABORTED')) this.opts.logger.warn({ err }, 'telemetry batch timer failed');
      },
    );
  }
}
