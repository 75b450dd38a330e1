/**
 * The operating half of the composition root: lag and SLA figures, the sample history behind
 * the status page, recent intents, and the metrics that span parts (consumer lag, endorsement
 * latency, telemetry reduction). Built by the Sidecar right after the outbox; it reads the
 * other parts lazily, so it never depends on the order they are built in.
 */
import type { Histogram, Registry } from 'prom-client';
import type { ApiBackend, IntentView } from '../api/index.js';
import type {
  StatusDoc,
  StatusInbox,
  StatusLag,
  StatusPageModel,
  StatusPoint,
  StatusShard,
} from '../api/status-page.js';
import { summariseMode, type Config } from '../config/schema.js';
import type { RowKind } from '../core/intent.js';
import type { Clock, ConnectionState, Outbox } from '../core/ports.js';
import { judgeLag, SLA_MS, windowLatency, type CumulativeBuckets } from '../core/sla.js';
import type { JetStreamManager } from 'nats';
import {
  createOpsMetrics,
  timeEndorsements,
  type OpsMetrics,
  type TelemetryReduction,
} from '../observability/ops-metrics.js';
import { RingBuffer, type StatusSample } from '../observability/status-history.js';
import type { Logger } from '../observability/logger.js';
import type { FederationStatus } from '../core/federation-receipt.js';

const KINDS: readonly RowKind[] = ['command', 'telemetry'];
/** Window of the recent commit-latency p99 that `status` judges. */
export const RECENT_WINDOW_MS = 300_000;
/** Samples kept: ten minutes at the default 5 s period. */
const HISTORY_CAPACITY = 120;
const RECENT_INTENTS = 20;

/** The parts of a Sidecar the ops read (the Sidecar itself satisfies it). */
export interface OpsParts {
  readonly config: Config;
  readonly peerId: string;
  readonly registry: Registry;
  /** The commit-latency histogram the status page's SLA windows are read from. */
  readonly commitMetrics: { readonly commitLatency: Histogram<'kind'> };
  readonly clock: Clock;
  readonly outbox: Outbox;
  readonly connector: { readonly state: ConnectionState; readonly manager: JetStreamManager | undefined };
  readonly publisher: { readonly state: ConnectionState };
  readonly committer: {
    on(event: 'intent:committed', l: (rows: Array<{ correlationId: string }>) => void): unknown;
    off(event: 'intent:committed', l: (rows: Array<{ correlationId: string }>) => void): unknown;
  };
  readonly mesh: {
    status(): Record<string, unknown>;
    shardStatus(): StatusShard | undefined;
    readonly mesh: { peers(): string[]; meshPeers(): string[] };
  } | null;
  readonly inbox: {
    readonly mode: 'push' | 'pull';
    readonly results: Record<string, number>;
    lag(): Promise<Array<{ consumer: string; stream: string; pending: number; ackPending: number }>>;
  } | null;
  /** Federation's ledger per partner; absent or null while federation is off. */
  readonly federation?: { readonly ledger: { status(): FederationStatus } } | null;
}

/** Lag, SLA, history and the status page for one sidecar. start() after the API, stop() first. */
export class SidecarOps {
  private readonly metrics: OpsMetrics;
  private readonly history = new RingBuffer<StatusSample>(HISTORY_CAPACITY);
  private readonly recentIds = new RingBuffer<string>(RECENT_INTENTS * 2);
  private backend: ApiBackend | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly onCommitted = (rows: Array<{ correlationId: string }>): void => {
    for (const r of rows.slice(-RECENT_INTENTS)) this.noteRecent(r.correlationId);
  };

  constructor(
    private readonly parts: OpsParts,
    private readonly log: Logger,
  ) {
    this.metrics = createOpsMetrics(parts.registry, parts.outbox, parts.clock);
  }

  /** Where the telemetry scout reports points in and summaries out. */
  get telemetryReduction(): TelemetryReduction {
    return this.metrics.telemetryReduction;
  }

  /** `outbox` with promotions timed into `net_sync_endorsement_latency_seconds` (for the consensus driver). */
  timedOutbox<T extends Outbox>(outbox: T): T {
    return timeEndorsements(outbox, this.metrics.endorsementLatency, this.parts.clock);
  }

  /** `backend` with the status document, the status page, and accepted intents remembered. */
  wrap(backend: ApiBackend): ApiBackend {
    const wrapped: ApiBackend = {
      ...backend,
      acceptIntent: async (body, tp, key) => {
        const accepted = await backend.acceptIntent(body, tp, key);
        this.noteRecent(accepted.correlationId);
        return accepted;
      },
      ...(backend.acceptIntents === undefined
        ? {}
        : {
            acceptIntents: async (items, tp) => {
              const answer = await backend.acceptIntents!(items, tp);
              for (const item of answer.items) if ('correlationId' in item) this.noteRecent(item.correlationId);
              return answer;
            },
          }),
      status: () => this.status(),
      statusPage: () => this.page(),
    };
    this.backend = wrapped;
    return wrapped;
  }

  /** Takes a first sample and one every `api.statusSampleMs`. */
  start(): void {
    if (this.timer !== null) return;
    this.parts.committer.on('intent:committed', this.onCommitted);
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.parts.config.api.statusSampleMs);
    this.timer.unref();
  }

  /** Stops sampling. Safe twice. */
  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.parts.committer.off('intent:committed', this.onCommitted);
  }

  /** The document of `GET /v1/status`. */
  async status(): Promise<StatusDoc> {
    const { parts } = this;
    const now = parts.clock.now();
    const buckets = await this.latencyBuckets();
    const since = this.history
      .toArray()
      .filter((s) => s.atMs <= now - RECENT_WINDOW_MS)
      .pop();
    const lag = {} as Record<RowKind, StatusLag>;
    for (const kind of KINDS) {
      const oldest = parts.outbox.oldestPendingCreatedAtMs(kind);
      const c = parts.outbox.counts(kind);
      const recent = windowLatency(since?.buckets[kind] ?? [], buckets[kind], SLA_MS[kind]);
      const windowMs = since === undefined ? RECENT_WINDOW_MS : now - since.atMs;
      lag[kind] = judgeLag(
        kind,
        oldest === null ? 0 : Math.max(0, now - oldest),
        c.proposed + c['pending-commit'] + c['in-flight'],
        { ...recent, windowMs },
      );
    }
    const ready = parts.publisher.state === 'connected';
    const breaches = [
      ...(ready ? [] : [`NATS streams not ready (connection ${parts.connector.state})`]),
      ...lag.command.breaches,
      ...lag.telemetry.breaches,
    ];
    const oldestAll = parts.outbox.oldestPendingCreatedAtMs();
    const meshStatus = parts.mesh?.status();
    const shard = parts.mesh?.shardStatus();
    return {
      ok: breaches.length === 0,
      peerId: parts.peerId,
      at: new Date(now).toISOString(),
      nats: {
        state: parts.connector.state,
        streamsReady: ready,
        servers: parts.config.nats.servers.map(maskUrl),
        jetstream: await this.jetstream(),
      },
      peers: {
        enabled: parts.mesh !== null,
        connected: parts.mesh?.mesh.peers() ?? [],
        meshPeers: parts.mesh?.mesh.meshPeers().length ?? 0,
        ...(typeof meshStatus?.['quorum'] === 'number' ? { quorum: meshStatus['quorum'] } : {}),
      },
      outbox: { command: parts.outbox.counts('command'), telemetry: parts.outbox.counts('telemetry') },
      oldestPendingAgeMs: oldestAll === null ? 0 : Math.max(0, now - oldestAll),
      lag,
      sla: { ok: breaches.length === 0, breaches },
      telemetry: { summarise: summariseMode(parts.config.telemetry), scout: parts.config.telemetry.scout },
      ...(parts.inbox === null ? {} : { inbox: await this.inboxStatus(parts.inbox) }),
      ...(meshStatus === undefined ? {} : { mesh: meshStatus }),
      ...(shard === undefined ? {} : { shard }),
      ...(parts.federation == null ? {} : { federation: parts.federation.ledger.status() }),
    };
  }

  /** What the status page shows. */
  async page(): Promise<StatusPageModel> {
    const status = await this.status();
    const history: StatusPoint[] = this.history.toArray().map((s) => ({
      atMs: s.atMs,
      pending: s.pending.command + s.pending.telemetry,
      lagMs: Math.max(s.lagMs.command, s.lagMs.telemetry),
      peers: s.peers,
      natsConnected: s.natsConnected,
    }));
    const seen = new Set<string>();
    const recent: IntentView[] = [];
    for (const id of this.recentIds.toArray().reverse()) {
      if (seen.has(id) || recent.length >= RECENT_INTENTS) continue;
      seen.add(id);
      const view = this.backend?.getIntent(id);
      if (view !== undefined) recent.push(view);
    }
    return {
      status,
      history,
      recent,
      refreshSeconds: Math.max(2, Math.round(this.parts.config.api.statusSampleMs / 1000)),
    };
  }

  private noteRecent(correlationId: string): void {
    this.recentIds.push(correlationId);
  }

  private async sample(): Promise<void> {
    try {
      const { outbox, clock } = this.parts;
      const now = clock.now();
      const pending = {} as Record<RowKind, number>;
      const lagMs = {} as Record<RowKind, number>;
      for (const kind of KINDS) {
        const c = outbox.counts(kind);
        pending[kind] = c.proposed + c['pending-commit'] + c['in-flight'];
        const oldest = outbox.oldestPendingCreatedAtMs(kind);
        lagMs[kind] = oldest === null ? 0 : Math.max(0, now - oldest);
      }
      const peers = this.parts.mesh?.mesh.peers().length ?? 0;
      this.history.push({
        atMs: now,
        pending,
        lagMs,
        natsConnected: this.parts.connector.state === 'connected',
        peers,
        buckets: await this.latencyBuckets(),
      });
    } catch (err) {
      // A sample lost is a gap in a chart: log and keep sampling.
      this.log.warn({ err }, 'status sample failed');
    }
  }

  private async latencyBuckets(): Promise<Record<RowKind, CumulativeBuckets>> {
    const out: Record<RowKind, Array<[number, number]>> = { command: [], telemetry: [] };
    for (const v of (await this.parts.commitMetrics.commitLatency.get()).values) {
      const labels: Partial<Record<string, string | number>> = v.labels; // buckets add `le`
      const kind = labels['kind'];
      if (v.metricName?.endsWith('_bucket') !== true || (kind !== 'command' && kind !== 'telemetry')) continue;
      const le = labels['le'] === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels['le']);
      out[kind].push([le, v.value]);
    }
    for (const kind of KINDS) out[kind].sort((a, b) => a[0] - b[0]);
    return out;
  }

  private async inboxStatus(inbox: NonNullable<OpsParts['inbox']>): Promise<StatusInbox> {
    const lag = await inbox.lag().catch(() => []);
    return {
      mode: inbox.mode,
      subjects: this.parts.config.inbox.subjects,
      results: inbox.results,
      consumers: lag.map((l) => ({ consumer: l.consumer, stream: l.stream, lag: l.pending + l.ackPending })),
    };
  }

  private async jetstream(): Promise<StatusDoc['nats']['jetstream']> {
    const jsm = this.parts.connector.manager;
    if (jsm === undefined || this.parts.connector.state !== 'connected') return { streams: [], error: 'not connected' };
    const streams: StatusDoc['nats']['jetstream']['streams'] = [];
    const errors: string[] = [];
    await Promise.all(
      this.parts.config.streams.map(async (spec) => {
        try {
          const info = await withTimeout(jsm.streams.info(spec.name), 2_000);
          streams.push({
            name: spec.name,
            messages: info.state.messages,
            lastSeq: info.state.last_seq,
            bytes: info.state.bytes,
          });
        } catch (err) {
          errors.push(`${spec.name}: ${(err as Error).message}`);
        }
      }),
    );
    streams.sort((a, b) => a.name.localeCompare(b.name));
    return { streams, ...(errors.length === 0 ? {} : { error: errors.sort().join('; ') }) };
  }
}

/** `url` without user info (a NATS URL may carry `user:pass@`). */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1');
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)),
  );
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
