/**
 * The telemetry half of the composition root: the origin-side emitter (`POST /v1/telemetry`),
 * the summariser, heartbeats, and the peer health reporter. Built after the outbox, the committer
 * and the mesh (which may be absent). Starts after them, stops before them.
 *
 * Who summarises (`telemetry.summarise`, docs/telemetry.md):
 * - `origin` (the default), or no mesh: this node summarises its own agent's points itself, with
 *   the scout's windows, IDs and bodies, fed straight by the emitter. It sends no telemetry gossip
 *   and no heartbeats and does not join the telemetry topic, so on a fleet's mesh it pays nothing
 *   for the others' telemetry. Nothing on the mesh needs heartbeats besides telemetry: shard
 *   health reads gossipsub's subscriptions of the home shard's topic.
 * - `scouts`: the scout protocol, on its own topic (`<mesh.topic>/telemetry`), off every
 *   consensus topic: origins gossip batches there, every such node heartbeats there (scouts with
 *   their role, origins with their telemetry watermark), and scouts (`telemetry.scout`) summarise
 *   what they own. Batches and heartbeats of earlier versions, which came on the fleet topic, are
 *   still heard there, so scouts can be upgraded first.
 */
import type { Registry } from 'prom-client';
import {
  createTelemetryMetrics,
  PeerHealthReporter,
  type MeshProbe,
  TelemetryEmitter,
  TelemetryScout,
} from '../telemetry/index.js';
import { isDeadLetterId } from '../core/dead-letter.js';
import { LIVENESS_HEARTBEATS, ScoutDirectory } from '../core/scout-ownership.js';
import { telemetryTopic } from '../core/shards.js';
import { firstWindowAfter, windowStartOf } from '../core/telemetry-window.js';
import { PeriodicTask } from '../runtime/periodic-task.js';
import { subjectMatches } from '../nats/subject-filter.js';
import type { OutboxCommitter } from '../commit/index.js';
import { summariseMode, type Config, type SummariseMode } from '../config/schema.js';
import type { Envelope } from '../core/envelope.js';
import { hasCode } from '../core/errors.js';
import type { Clock, Gossip, Outbox } from '../core/ports.js';
import { parseTelemetryBody } from '../core/telemetry-point.js';
import type { Logger } from '../observability/logger.js';

/** What {@link TelemetryWiring} is built from. */
export interface TelemetryWiringOptions {
  config: Config;
  peerId: string;
  outbox: Outbox & { droppedTelemetryTotal?: number };
  committer: OutboxCommitter;
  /** The mesh node (its fleet topic; `joinTopic` for the telemetry topic), or null when the mesh is off. */
  mesh: (Gossip & MeshProbe & { joinTopic(topic: string): Gossip; validatorRejects(): Record<string, number> }) | null;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  /** Where the scout reports points in and summaries out (the reduction factor), if anywhere. */
  reduction?: { record(points: number, summaries: number): void };
}

/** Emitter, scout, heartbeats and peer health, wired. */
export class TelemetryWiring {
  readonly emitter: TelemetryEmitter;
  readonly scout: TelemetryScout | null;
  readonly health: PeerHealthReporter;
  /** Who summarises this node's points (`telemetry.summarise`, resolved). */
  readonly mode: SummariseMode;
  /** The telemetry topic's gossip: scouts mode on a mesh; null when this node summarises its own points. */
  readonly gossip: Gossip | null;
  private readonly opts: TelemetryWiringOptions;
  private readonly log: Logger;
  private unsubscribe: (() => void) | null = null;
  /** Scouts heard on the mesh, kept when this node is none (a scout keeps its own directory). */
  private readonly scouts: ScoutDirectory;
  private startedAtMs = Number.POSITIVE_INFINITY;
  private heartbeats: PeriodicTask | null = null;

  constructor(opts: TelemetryWiringOptions) {
    this.opts = opts;
    const t = opts.config.telemetry;
    this.log = opts.logger.child({ component: 'telemetry' });
    const metrics = createTelemetryMetrics(opts.registry);
    const wakeCommitter = (): void => opts.committer.wake();
    const now = opts.clock.now();
    this.scouts = new ScoutDirectory(t.heartbeatMs, null);
    this.mode = summariseMode(t);
    this.gossip =
      this.mode === 'scouts' && opts.mesh !== null ? opts.mesh.joinTopic(telemetryTopic(opts.config.mesh.topic)) : null;
    // At the origin (or without a mesh) this node summarises its own points, alone: nobody else
    // hears them. It does so from the current window on, since there is no mesh to warm up to.
    const local = this.gossip === null;
    const sinceMs = local ? windowStartOf(now, t.windowMs) : firstWindowAfter(now + t.warmupMs, t.windowMs);
    this.scout =
      t.scout || local
        ? new TelemetryScout({
            peerId: opts.peerId,
            clock: opts.clock,
            outbox: opts.outbox,
            wakeCommitter,
            prefix: opts.config.subjects.prefix,
            subjectMap: t.subjectMap,
            allowedLatenessMs: t.allowedLatenessMs,
            closeSlackMs: t.closeSlackMs,
            gapGraceMs: t.gapGraceMs,
            maxPoints: t.windowMaxPoints,
            heartbeatMs: t.heartbeatMs,
            handoffHoldMs: t.handoffHoldMs,
            sinceMs,
            // Alone, nothing waits on a handoff: windows close within 200 ms of their time (lag
            // SLA 2 s), and an idle sidecar wakes 5 times a second for it instead of 20.
            ...(local ? { tickMs: 200 } : {}),
            logger: this.log,
            metrics,
            reduction: opts.reduction,
          })
        : null;
    const scout = this.scout;
    this.emitter = new TelemetryEmitter({
      origin: opts.peerId,
      clock: opts.clock,
      rules: { windowMs: t.windowMs, allowedLatenessMs: t.allowedLatenessMs, maxPoints: t.windowMaxPoints },
      batchMs: t.batchMs,
      batchMaxPoints: t.batchMaxPoints,
      maxQueuedPoints: t.maxQueuedPoints,
      gossip: this.gossip,
      localScout: scout === null ? null : (env) => scout.ingest(env),
      logger: this.log,
      metrics,
      scoutsHeard: () => this.scoutsHeard(),
    });
    this.health = new PeerHealthReporter({
      peerId: opts.peerId,
      prefix: opts.config.subjects.prefix,
      clock: opts.clock,
      outbox: opts.outbox,
      wakeCommitter,
      intervalMs: t.healthIntervalMs,
      mesh: opts.mesh,
      validatorRejects: async () => opts.mesh?.validatorRejects() ?? {},
      scouts: () => ({
        live: scout?.directory.live(opts.clock.now()) ?? [],
        expected: this.mode === 'scouts' ? t.expectedScouts : 0,
      }),
      logger: this.log,
      captured: (subject) =>
        opts.config.streams.some((st) => st.subjects.some((pattern) => subjectMatches(subject, pattern))),
    });
    opts.committer.on('intent:committed', (rows) => this.onCommitted(rows));
  }

  /** Starts listening to the telemetry topic (scouts mode), the summariser, heartbeats and the health reports. */
  start(): void {
    const { mesh, config } = this.opts;
    const gossip = this.gossip;
    this.startedAtMs = this.opts.clock.now();
    if (gossip !== null && mesh !== null) {
      const hear = (env: Envelope, from: string): void => this.receive(env, from);
      // Earlier versions send batches and heartbeats on the fleet topic: still heard there.
      const offTopic = gossip.onEnvelope(hear);
      const offFleet = mesh.onEnvelope(hear);
      this.unsubscribe = () => {
        offTopic();
        offFleet();
      };
    }
    this.scout?.start();
    if (gossip !== null) this.startHeartbeats(gossip);
    this.health.start();
    this.log.info(
      { summarise: this.mode, scout: this.scout !== null && gossip !== null, sinceMs: this.scout?.snapshot().sinceMs },
      'telemetry started',
    );
    if (this.mode === 'origin' && config.telemetry.expectedScouts > 0)
      this.log.warn(
        { expectedScouts: config.telemetry.expectedScouts },
        'telemetry.expectedScouts is ignored with telemetry.summarise: origin (this node summarises its own points)',
      );
    if (mesh === null && (config.mesh.peers.length > 0 || config.mesh.bootstrap.length > 0))
      this.log.info(
        {},
        'mesh.peers or mesh.bootstrap is set, but with consensus off and telemetry.summarise: origin nothing uses ' +
          'the mesh, so it is not started; set telemetry.summarise: scouts to gossip telemetry to scouts',
      );
  }

  /** Sends queued points, says goodbye as a scout, stops the loops. Safe twice. */
  async stop(): Promise<void> {
    await this.emitter.stop();
    const beating = this.heartbeats?.running === true;
    await this.heartbeats?.stop();
    if (beating && this.gossip !== null && this.scout !== null) {
      // Leaving: peers move our origins at once instead of after 3 missed heartbeats.
      await this.gossip.publish(this.heartbeat([])).catch(() => undefined);
    }
    this.unsubscribe?.();
    this.unsubscribe = null;
    // Alone with its own points (origin, or no mesh), this node's open windows are whole: write them.
    if (this.gossip === null) await this.scout?.closeAll();
    await this.scout?.stop();
    await this.health.stop();
  }

  /** `POST /v1/telemetry`: validates (INPUT_INVALID naming the field) and queues the points. */
  async accept(body: unknown): Promise<{ accepted: number }> {
    const points = parseTelemetryBody(body, this.opts.clock.now());
    return { accepted: this.emitter.accept(points) };
  }

  /** A status snapshot. */
  status(): Record<string, unknown> {
    return {
      summarise: this.mode,
      topic: this.gossip === null ? null : telemetryTopic(this.opts.config.mesh.topic),
      scout: this.scout?.snapshot() ?? null,
      epoch: this.emitter.epoch,
    };
  }

  private receive(env: Envelope, from: string): void {
    if (env.kind === 'telemetry') this.scout?.ingest(env);
    else if (env.kind === 'heartbeat') {
      if (this.scout === null) this.scouts.heartbeat(from, env.roles, env.scoutSinceMs, this.opts.clock.now());
      this.scout?.heartbeat(
        from,
        env.roles,
        env.scoutSinceMs,
        env.telemetry === undefined ? undefined : { ...env.telemetry, atMs: env.atMs },
      );
    }
  }

  // A node that is no scout: has it heard a live one (or not been up long enough to know)?
  private scoutsHeard(): boolean {
    const now = this.opts.clock.now();
    return (
      now - this.startedAtMs < LIVENESS_HEARTBEATS * this.opts.config.telemetry.heartbeatMs ||
      this.scouts.live(now).length > 0
    );
  }

  private onCommitted(rows: ReadonlyArray<{ correlationId: string; kind?: string; createdAtMs?: number }>): void {
    const now = this.opts.clock.now();
    for (const lag of this.scout?.onCommitted(
      rows.map((r) => r.correlationId),
      now,
    ) ?? [])
      this.health.recordWindowLag(lag);
    for (const r of rows) {
      if (
        r.correlationId.startsWith('tlm-') ||
        r.correlationId.startsWith('health-') ||
        r.correlationId.startsWith('lag-') ||
        isDeadLetterId(r.correlationId)
      )
        continue;
      // Rows resolved from the stream carry no kind/createdAtMs: read those back.
      const row = r.kind === undefined ? this.opts.outbox.get(r.correlationId) : r;
      if (row?.kind === 'command' && row.createdAtMs !== undefined)
        this.health.recordCommitLatency(Math.max(0, now - row.createdAtMs));
    }
  }

  // In scouts mode every node heartbeats on the telemetry topic: scouts announce their role, and
  // every origin its telemetry watermark (the local scout gets its own directly: gossip does not
  // echo our messages).
  private heartbeat(roles: string[]): Envelope {
    const since = this.scout?.snapshot().sinceMs;
    const atMs = this.opts.clock.now();
    const telemetry = this.emitter.watermark();
    if (telemetry !== null) this.scout?.heartbeat(this.opts.peerId, roles, since, { ...telemetry, atMs });
    return {
      schemaVersion: 1,
      kind: 'heartbeat',
      peerId: this.opts.peerId,
      roles,
      atMs,
      ...(since === undefined ? {} : { scoutSinceMs: since }),
      ...(telemetry === null ? {} : { telemetry }),
    };
  }

  private startHeartbeats(mesh: Gossip): void {
    this.heartbeats ??= new PeriodicTask({
      clock: this.opts.clock,
      logger: this.log,
      periodMs: this.opts.config.telemetry.heartbeatMs,
      runAtStart: true,
      failureMessage: 'heartbeat failed',
      round: async () => {
        // No subscribed peer yet (MESH_PUBLISH) is normal at start-up.
        await mesh.publish(this.heartbeat(this.scout === null ? [] : ['scout'])).catch((err: unknown) => {
          if (!hasCode(err, 'MESH_PUBLISH')) throw err;
        });
      },
    });
    this.heartbeats.start();
  }
}
