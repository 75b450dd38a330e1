/**
 * Config section `telemetry`: who summarises the agent's points, windows, gossip batches and
 * the scout protocol's timings (docs/telemetry.md).
 */
import { z } from 'zod';
import { zDurationMs } from '../../core/units.js';

/** Section `telemetry`. */
export const TelemetrySchema = z
  .object({
    /**
     * Who summarises this node's agent's points (docs/telemetry.md). `origin`: this sidecar, into
     * the same windows, `Nats-Msg-Id`s and bodies a scout produces; nothing telemetry goes on the
     * mesh, so a fleet member pays nothing for the others' telemetry. `scouts`: the scout protocol
     * on its own topic (`<mesh.topic>/telemetry`): batches and heartbeats to the scouts. Unset:
     * `scouts` where `telemetry.scout` is true, else `origin` (see {@link summariseMode}).
     */
    summarise: z.enum(['origin', 'scouts']).optional(),
    /** Act as an observability scout (summarise telemetry gossip into NATS); implies `summarise: scouts`. */
    scout: z.boolean().default(false),
    /** Burst window length. */
    windowMs: zDurationMs.default(1_000),
    /** A window also flushes after this many points. */
    windowMaxPoints: z.number().int().positive().default(100_000),
    /** How often the agent's points are batched into one gossip message. */
    batchMs: zDurationMs.default(100),
    /** Period of peer health and pipeline lag reports. */
    healthIntervalMs: zDurationMs.default(10_000),
    /**
     * How long after its end a window still takes points at the origin; older points are
     * summarised apart as `late`. 500 ms covers a point made at the very end of a window and
     * held up to `batchMs` (100 ms) before it is sent, with room for a slow event loop.
     */
    allowedLatenessMs: zDurationMs.default(500),
    /**
     * Extra wait before a scout closes a window, covering gossip latency and clock skew between
     * origin and scout. Gossip p99 is ~50 ms at moderate load (docs/libp2p.md); NTP keeps hosts
     * within tens of ms. 500 ms leaves room for a loaded mesh. A window then waits until the
     * scout holds every batch of it (origins announce their last batch in heartbeats); only for
     * origins that announce none (older versions) is a later batch a `straggler` summary.
     */
    closeSlackMs: zDurationMs.default(500),
    /**
     * How long a gap in an origin's batches may stay open at a scout before the scout gives up on
     * the missing batch (and on the windows it belongs to, which a scout that heard them whole
     * publishes). 3 s: gossipsub repairs a lost message through IHAVE/IWANT on its 1 s heartbeat,
     * within the 3 heartbeats its message cache gossips.
     */
    gapGraceMs: zDurationMs.default(3_000),
    /**
     * Heartbeat period of every node with `summarise: scouts`, on the telemetry topic: scouts
     * announce themselves, and every such origin its last telemetry batch. 1 s: a dead scout's
     * origins move within 3 s, for one tiny message/s per node. `origin` nodes send none.
     */
    heartbeatMs: zDurationMs.default(1_000),
    /**
     * How long a scout keeps a closed window of an origin it does not own, so that it can publish
     * it if the owner turns out to be dead. Must exceed 3 heartbeats (liveness): 8 s covers
     * 3 s of liveness plus windows flushed by the dead owner but not yet committed.
     */
    handoffHoldMs: zDurationMs.default(8_000),
    /**
     * Time a new scout listens before it may own windows (rounded up to a window boundary):
     * dialling static peers and grafting the mesh takes ~0.5 s with 5 nodes (docs/libp2p.md).
     */
    warmupMs: zDurationMs.default(2_000),
    /**
     * How this node sends the point columns of its telemetry gossip. `packed` (base64 float64s):
     * a third smaller and about 4× cheaper for scouts to decode. `arrays` (JSON numbers): what
     * versions before the packed form read (they reject packed batches, which lowers the sender's
     * gossip score); use it while upgrading such a mesh, then switch back. Every version since the
     * packed form reads both. The array form is ~1.8× larger: at most 5,000 `batchMaxPoints`.
     */
    wireColumns: z.enum(['packed', 'arrays']).default('packed'),
    /** Points per telemetry gossip message; 4,096 (~150 KiB) stays under the 256 KiB envelope cap. */
    batchMaxPoints: z.number().int().positive().max(8_192).default(4_096),
    /** Points queued at the origin before the API refuses more: gossip has no backpressure. */
    maxQueuedPoints: z.number().int().positive().default(200_000),
    /**
     * Metric → subject suffix after `<prefix>.telemetry.` (1-3 tokens). Keys are metric names, or
     * `area.*` for a whole area. Empty: the metric name itself (`sentiment.delta` →
     * `root.solar.telemetry.sentiment.delta`), see `telemetrySubject`.
     */
    subjectMap: z
      .record(
        z.string(),
        z
          .string()
          .max(128, 'at most 128 characters: subjects stay far below the server control line')
          .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,2}$/, 'must be 1-3 tokens after "telemetry."'),
      )
      .default({}),
    /** Scouts the deployment expects; fewer live ones are reported in peer health and logged. 0: no check. */
    expectedScouts: z.number().int().nonnegative().default(0),
  })
  .strict()
  .refine((t) => t.handoffHoldMs > 3 * t.heartbeatMs, {
    message: 'must exceed 3 × telemetry.heartbeatMs',
    path: ['handoffHoldMs'],
  })
  .refine((t) => t.wireColumns !== 'arrays' || t.batchMaxPoints <= 5_000, {
    message:
      'must be at most 5000 with telemetry.wireColumns: arrays (that form must stay under the 256 KiB envelope cap)',
    path: ['batchMaxPoints'],
  })
  .refine((t) => !(t.scout && t.summarise === 'origin'), {
    message:
      'a scout summarises telemetry gossip, so it needs telemetry.summarise: scouts (or unset); ' +
      'set telemetry.scout: false to summarise only this node at the origin',
    path: ['summarise'],
  })
  .transform((t) => ({ ...t, summarise: summariseMode(t) }));

/** Telemetry summarised at the origin (`origin`) or by scouts over the mesh (`scouts`). */
export type SummariseMode = 'origin' | 'scouts';

/**
 * Who summarises this node's points: `telemetry.summarise` when set, else `scouts` for a scout
 * (`telemetry.scout: true`: configs written before the key keep their scouts), else `origin`. A
 * scout always runs the scout protocol, whatever a hand-built config says.
 */
export function summariseMode(t: { scout: boolean; summarise?: SummariseMode | undefined }): SummariseMode {
  return t.scout || t.summarise === 'scouts' ? 'scouts' : 'origin';
}
