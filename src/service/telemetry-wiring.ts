/**
 * The telemetry half of the composition root: the origin-side emitter (`POST /v1/telemetry`),
 * the scout (when `telemetry.scout`, or with no mesh), heartbeats (every node: scouts say so,
 * origins carry their telemetry watermark), and the peer health reporter. Built after
 * the outbox, the committer and the mesh (which may be absent: then this node only hears its
 * own agent, and summarises it itself). Starts after them, stops before them.
 *
 * Topic: telemetry travels on the mesh's one topic (`mesh.topic`, the sentiment topic), as a
 * new envelope kind. Batching makes it ~10 messages/s per origin; a separate topic would not
 * save the signature checks that dominate gossip cost (docs/libp2p.md), would need a second set
 * of score parameters, and every node has to relay telemetry anyway. Unknown kinds are
 * `ignore`d by older peers, so the rollout needs no new topic either.
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
import { PeriodicTask } from '../runtime/periodic-task.js';
import { subjectMatches } from '../nats/subject-filter.js';
import type { OutboxCommitter } from '../commit/index.js';
import type { Config } from '../config/schema.js';
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
  /** The mesh node, or null when the mesh is off. */
  mesh: (Gossip & MeshProbe) | null;
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
    // Without a mesh this node is alone: it summarises its own points (no other scout could),
    // from the current window on, since there is no mesh to warm up to.
    const standalone = opts.mesh === null;
    const sinceMs = standalone
      ? Math.floor(now / t.windowMs) * t.windowMs
      : Math.ceil((now + t.warmupMs) / t.windowMs) * t.windowMs;
    this.scout =
      t.scout || standalone
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
      gossip: opts.mesh,
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
      validatorRejects: () => counterValues(opts.registry, 'net_sync_gossip_rejected_total', 'reason'),
      scouts: () => ({ live: scout?.directory.live(opts.clock.now()) ?? [], expected: t.expectedScouts }),
      logger: this.log,
      captured: (subject) =>
        opts.config.streams.some((st) => st.subjects.some((pattern) => subjectMatches(subject, pattern))),
    });
    opts.committer.on('intent:committed', (rows) => this.onCommitted(rows));
  }

  /** Starts listening to gossip, the scout, its heartbeats and the health reports. */
  start(): void {
    const mesh = this.opts.mesh;
    this.startedAtMs = this.opts.clock.now();
    if (mesh !== null) this.unsubscribe = mesh.onEnvelope((env, from) => this.receive(env, from));
    this.scout?.start();
    if (mesh !== null) this.startHeartbeats(mesh);
    this.health.start();
    this.log.info({ scout: this.scout !== null, sinceMs: this.scout?.snapshot().sinceMs }, 'telemetry started');
  }

  /** Sends queued points, says goodbye as a scout, stops the loops. Safe twice. */
  async stop(): Promise<void> {
    await this.emitter.stop();
    const beating = this.heartbeats?.running === true;
    await this.heartbeats?.stop();
    if (beating && this.opts.mesh !== null && this.scout !== null) {
      // Leaving: peers move our origins at once instead of after 3 missed heartbeats.
      await this.opts.mesh.publish(this.heartbeat([])).catch(() => undefined);
    }
    this.unsubscribe?.();
    this.unsubscribe = null;
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
    return { scout: this.scout?.snapshot() ?? null, epoch: this.emitter.epoch };
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

  // Every node heartbeats: scouts announce their role, and every origin its telemetry watermark
  // (the local scout gets its own directly: gossip does not echo our messages).
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

/** Values of a labelled counter in `registry`, by one label; {} when it is not registered. */
async function counterValues(registry: Registry, name: string, label: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return {};
  const out: Record<string, number> = {};
  for (const v of (await metric.get()).values) {
    if (v.value > 0) out[String(v.labels[label])] = v.value;
  }
  return out;
}
