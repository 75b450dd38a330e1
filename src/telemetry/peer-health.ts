/**
 * Peer health and pipeline lag, every `healthIntervalMs`, as outbox rows of kind `telemetry`
 * (so they queue while NATS is away and fall under the telemetry cap; intents never do):
 *
 * - `<prefix>.telemetry.libp2p.peer.health`: connections, mesh peers per topic, ping RTT per
 *   peer, gossipsub scores, validator rejects by reason, outbox depth, live scouts.
 * - `<prefix>.observability.pipeline.lag`: age of the oldest pending intent, commit latency
 *   p50/p99 of the intents committed during the interval, and the telemetry window lag.
 */
import type { Clock, Outbox, StateCounts } from '../core/ports.js';
import { SCHEMA_FILE } from '../core/schema-names.js';
import { buildTelemetryRow } from '../core/telemetry-summary.js';
import { WindowAccumulator } from '../core/telemetry-window.js';
import type { Logger } from '../observability/logger.js';
import { PeriodicTask } from '../runtime/periodic-task.js';

/** What peer health reads from the mesh. `MeshNode` provides all of it. */
export interface MeshProbe {
  readonly topic: string;
  peers(): string[];
  meshPeers(): string[];
  /** Round-trip time to a peer, ms; rejects when unreachable. */
  ping(peerId: string, signal?: AbortSignal): Promise<number>;
  /**
   * The round-trip time libp2p's connection monitor last measured to a peer (it pings every
   * connection every 10 s anyway), ms; undefined when none is known yet. Read instead of a ping
   * of our own when given: a ping stream per peer per report, on both ends, would double the
   * stream setups of an idle mesh, and grows with the peers.
   */
  rtt?(peerId: string): number | undefined;
  scores(): Record<string, number>;
}

/** Options of {@link PeerHealthReporter}. */
export interface PeerHealthReporterOptions {
  peerId: string;
  prefix: string;
  clock: Clock;
  outbox: Outbox & { droppedTelemetryTotal?: number };
  wakeCommitter: () => void;
  intervalMs: number;
  /** The mesh, or null when it is off. */
  mesh: MeshProbe | null;
  /** Validator refusals by reason so far (cumulative). */
  validatorRejects: () => Promise<Record<string, number>>;
  /** Live scouts as this node sees them, and how many are expected (0: no check). */
  scouts: () => { live: string[]; expected: number };
  /**
   * Whether a configured stream captures a subject. Reports whose subject no stream captures
   * are not written (they could only go dead); the reporter says so once at start.
   */
  captured: (subject: string) => boolean;
  logger: Logger;
}

/** Latency samples of one interval, in ms. */
class LatencyWindow {
  private acc = new WindowAccumulator();
  add(ms: number): void {
    this.acc.add(0, ms);
  }
  /** Count, p50, p99 (ms) since the last take; zeros when empty. */
  take(): { count: number; p50Ms: number; p99Ms: number; maxMs: number } {
    const acc = this.acc;
    this.acc = new WindowAccumulator();
    if (acc.count === 0) return { count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
    const s = acc.stats();
    return { count: s.count, p50Ms: round(s.p50), p99Ms: round(s.p99), maxMs: round(s.max) };
  }
}

/** Writes the periodic health and lag reports. */
export class PeerHealthReporter {
  private readonly commitLatency = new LatencyWindow();
  private readonly windowLag = new LatencyWindow();
  private readonly task: PeriodicTask;
  private readonly healthSubject: string;
  private readonly lagSubject: string;

  constructor(private readonly opts: PeerHealthReporterOptions) {
    this.healthSubject = `${opts.prefix}.telemetry.libp2p.peer.health`;
    this.lagSubject = `${opts.prefix}.observability.pipeline.lag`;
    this.task = new PeriodicTask({
      clock: opts.clock,
      logger: opts.logger,
      periodMs: opts.intervalMs,
      runAtStart: false,
      failureMessage: 'peer health report failed',
      round: (signal) => this.report(signal),
    });
  }

  /** Records an intent's acceptance-to-PubAck latency, ms. */
  recordCommitLatency(ms: number): void {
    this.commitLatency.add(ms);
  }

  /** Records a summary's window-close-to-PubAck latency, ms. */
  recordWindowLag(ms: number): void {
    this.windowLag.add(ms);
  }

  start(): void {
    if (this.task.running) return;
    const off = [this.healthSubject, this.lagSubject].filter((s) => !this.opts.captured(s));
    if (off.length === 2) {
      this.opts.logger.info(
        { subjects: off },
        'health and lag reports off: no configured stream captures their subjects',
      );
      return;
    }
    if (off.length > 0)
      this.opts.logger.info({ subjects: off }, 'some health reports off: no configured stream captures their subjects');
    this.task.start();
  }

  /** Stops the loop (a report being written completes). Safe twice. */
  stop(): Promise<void> {
    return this.task.stop();
  }

  /** Builds and stores one pair of reports. Exposed for tests. */
  async report(signal?: AbortSignal): Promise<void> {
    const { opts } = this;
    const at = opts.clock.now();
    const health = await this.health(at, signal);
    const lag = this.lag(at);
    const rows = [
      buildTelemetryRow({
        subject: this.healthSubject,
        msgId: `health-${opts.peerId}-${at}`,
        body: health,
        origin: opts.peerId,
        publisher: opts.peerId,
        createdAtMs: at,
        schema: SCHEMA_FILE.peerHealth,
      }),
      buildTelemetryRow({
        subject: this.lagSubject,
        msgId: `lag-${opts.peerId}-${at}`,
        body: lag,
        origin: opts.peerId,
        publisher: opts.peerId,
        createdAtMs: at,
        schema: SCHEMA_FILE.pipelineLag,
      }),
    ];
    await opts.outbox.append(rows.filter((r) => opts.captured(r.subject)));
    opts.wakeCommitter();
  }

  private async health(at: number, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const { mesh, outbox } = this.opts;
    const peers = mesh?.peers() ?? [];
    const scouts = this.opts.scouts();
    if (scouts.expected > 0 && scouts.live.length < scouts.expected) {
      this.opts.logger.warn({ live: scouts.live.length, expected: scouts.expected }, 'fewer live scouts than expected');
    }
    return {
      schemaVersion: 1,
      peerId: this.opts.peerId,
      atMs: at,
      connections: peers.length,
      meshPeers: mesh === null ? {} : { [mesh.topic]: mesh.meshPeers().length },
      pingRttMs: mesh === null ? {} : await this.pings(mesh, peers.slice(0, 32), signal),
      scores: mesh === null ? {} : roundValues(mesh.scores()),
      validatorRejects: await this.opts.validatorRejects(),
      outbox: {
        command: depth(outbox.counts('command')),
        telemetry: depth(outbox.counts('telemetry')),
        telemetryDroppedTotal: outbox.droppedTelemetryTotal ?? 0,
      },
      scouts: { live: scouts.live.length, expected: scouts.expected },
    };
  }

  private lag(at: number): Record<string, unknown> {
    const oldestIntent = this.oldestPendingIntentMs();
    return {
      schemaVersion: 1,
      peerId: this.opts.peerId,
      atMs: at,
      intervalMs: this.opts.intervalMs,
      oldestPendingIntentAgeMs: oldestIntent === null ? 0 : Math.max(0, at - oldestIntent),
      commitLatency: this.commitLatency.take(),
      telemetryWindowLag: this.windowLag.take(),
    };
  }

  // The oldest open command row: telemetry rows share the table, so skip them (bounded scan).
  private oldestPendingIntentMs(): number | null {
    const rows = this.opts.outbox.listByState(['proposed', 'pending-commit', 'in-flight'], 512);
    const cmd = rows.find((r) => r.kind === 'command');
    if (cmd !== undefined) return cmd.createdAtMs;
    return rows.length === 512 ? this.opts.outbox.oldestPendingCreatedAtMs() : null;
  }

  private async pings(mesh: MeshProbe, peers: string[], signal?: AbortSignal): Promise<Record<string, number | null>> {
    const timeout = AbortSignal.timeout(Math.min(2_000, this.opts.intervalMs / 2));
    const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    const results = await Promise.allSettled(
      peers.map((p) => {
        const known = mesh.rtt?.(p);
        return known === undefined ? mesh.ping(p, both) : Promise.resolve(known);
      }),
    );
    const out: Record<string, number | null> = {};
    peers.forEach((p, i) => {
      const r = results[i]!;
      out[p] = r.status === 'fulfilled' ? round(r.value) : null;
    });
    return out;
  }
}

function depth(c: StateCounts): Record<string, number> {
  return { proposed: c.proposed, pendingCommit: c['pending-commit'], inFlight: c['in-flight'], dead: c.dead };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function roundValues(r: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(r)) out[k] = round(v);
  return out;
}
