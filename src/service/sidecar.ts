/**
 * The composition root: config, then adapters, then use cases. Start in order, stop in
 * reverse. One Sidecar is one `net-sync start`.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { monotonicFactory } from 'ulid';
import { ApiServer, type ApiBackend, type IntentView } from '../api/index.js';
import { createCommitMetrics, IntentIntake, OutboxCommitter, OutboxPruner } from '../commit/index.js';
import { createBufferMetrics, SqliteOutbox } from '../buffer/index.js';
import type { PrivateKey } from '@libp2p/interface';
import type { Config } from '../config/schema.js';
import { backoffDelayMs } from '../core/backoff.js';
import { NetSyncError } from '../core/errors.js';
import { redactUrl } from '../core/redact-url.js';
import { keyedCorrelationId } from '../core/idempotency.js';
import {
  retentionRefusal,
  sharedIdLookupAfterMs,
  takeoverLookupAfterMs,
  windowsWithinFence,
} from '../core/retention-hazard.js';
import type { CommandBody } from '../core/command-message.js';
import type { OutboxRow } from '../core/intent.js';
import type { InboxService } from '../inbox/index.js';
import { loadOrCreateIdentity } from '../mesh/identity.js';
import { createNatsMetrics, JetStreamPublisher, JetStreamReader, NatsConnector, StreamManager } from '../nats/index.js';
import type { Logger } from '../observability/logger.js';
import { registerOutboxGauges } from '../observability/outbox-gauges.js';
import { SystemClock } from '../runtime/system-clock.js';
import { unsafeRetention } from './admin-session.js';
import { deadLetterNotices } from './dead-letters.js';
import { buildInbox } from './inbox-wiring.js';
import { readiness, withShard } from './readiness.js';
import { consensusWanted, meshWanted, MeshWiring } from './mesh-wiring.js';
import { ReadyPublisher } from './ready-publisher.js';
import { TelemetryWiring } from './telemetry-wiring.js';
import { buildFederation, federationBackend, loadFederationSigner } from './federation-wiring.js';
import type { DsseSigner } from '../core/federation-trust.js';
import type { FederationWiring } from './federation-wiring.js';
import { SidecarOps } from './sidecar-ops.js';

/** A running sidecar's parts, for the CLI, the demo, tests and benchmarks. */
export class Sidecar {
  readonly clock = new SystemClock();
  readonly registry = new Registry();
  readonly outbox: SqliteOutbox;
  readonly connector: NatsConnector;
  readonly publisher: ReadyPublisher;
  readonly reader: JetStreamReader;
  readonly streams: StreamManager;
  readonly committer: OutboxCommitter;
  /** Retention of settled rows; null when `buffer.retainSettledMs` is 0. */
  readonly pruner: OutboxPruner | null;
  readonly intake: IntentIntake;
  readonly api: ApiServer;
  /** Mesh and consensus; null when consensus is off (single node). */
  readonly mesh: MeshWiring | null;
  /** Telemetry: the agent's points out, scout summaries and peer health in the outbox. */
  readonly telemetry: TelemetryWiring;
  /** Lag and SLA figures, status page, cross-part metrics (telemetry reduction sink). */
  readonly ops: SidecarOps;
  /** Commands delivered to the agent; null when `inbox.subjects` is empty. */
  readonly inbox: InboxService | null;
  /** Signed events to partners; null while federation is off (docs/federation.md). */
  readonly federation: FederationWiring | null;
  private stopping: Promise<void> | null = null;
  private ensuring: Promise<void> | null = null;
  private readonly halt = new AbortController();
  private unsubscribe: (() => void) | null = null;
  /** When the committer last committed (or the sidecar started): readiness judges a stall by it. */
  private readonly progress = { lastCommitAtMs: Date.now() };
  private failFatal: (err: NetSyncError) => void = () => undefined;
  /**
   * Settles when the sidecar cannot go on (a WorkQueue stream on our subjects, say): the CLI
   * then stops it and exits with the error's code.
   */
  readonly fatal = new Promise<NetSyncError>((resolve) => {
    this.failFatal = resolve;
  });

  private constructor(
    readonly config: Config,
    readonly peerId: string,
    private readonly log: Logger,
    privateKey: PrivateKey,
    federationSigner: DsseSigner | null = null,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'net_sync_process_' });
    const commitMetrics = createCommitMetrics(this.registry);
    this.outbox = SqliteOutbox.open({ ...config.buffer, logger: log, metrics: createBufferMetrics(this.registry) });
    registerOutboxGauges(this.registry, this.outbox, this.clock);
    const natsMetrics = createNatsMetrics(this.registry);
    this.connector = new NatsConnector({ config: config.nats, logger: log, metrics: natsMetrics });
    this.publisher = new ReadyPublisher(
      new JetStreamPublisher({
        connector: this.connector,
        timeoutMs: config.nats.publishTimeoutMs,
        logger: log,
        metrics: natsMetrics,
      }),
    );
    this.reader = new JetStreamReader({ connector: this.connector, unsafeRetention: unsafeRetention(config) });
    this.streams = new StreamManager({ connector: this.connector, logger: log });
    this.committer = new OutboxCommitter({
      outbox: this.outbox,
      publisher: this.publisher,
      reader: this.reader,
      clock: this.clock,
      logger: log.child({ component: 'committer' }),
      metrics: commitMetrics,
      window: config.commit.window,
      batchRows: config.commit.batchRows,
      scanSkewMs: config.commit.scanSkewMs,
      backoff: { baseMs: config.commit.backoffBaseMs, maxMs: config.commit.backoffMaxMs, minMs: 10 },
      leaseOwner: `sidecar:${peerId}`,
      sendMarginMs: config.nats.publishTimeoutMs,
      sharedIdLookupAfterMs: sharedIdLookupAfterMs(config.streams),
      commandLookupAfterMs: consensusWanted(config) ? takeoverLookupAfterMs(config.streams) : undefined,
      deadLetter: deadLetterNotices(config),
    });
    this.pruner =
      config.buffer.retainSettledMs > 0
        ? new OutboxPruner({
            outbox: this.outbox,
            clock: this.clock,
            logger: log.child({ component: 'pruner' }),
            retainMs: config.buffer.retainSettledMs,
            pruned: commitMetrics.pruned,
          })
        : null;
    const newId = monotonicFactory();
    this.intake = new IntentIntake({
      outbox: this.outbox,
      clock: this.clock,
      origin: peerId,
      metrics: commitMetrics,
      limits: { prefix: config.subjects.prefix, maxPayloadBytes: config.api.maxPayloadBytes },
      newId: (now) => newId(now),
      randomHex,
      onAccepted: () => this.committer.wake(),
    });
    this.federation = buildFederation({
      config,
      signer: federationSigner,
      peerId,
      outbox: this.outbox,
      connector: this.connector,
      clock: this.clock,
      logger: log,
      newId: (now) => newId(now),
      randomHex,
      committer: this.committer,
      registry: this.registry,
    });
    this.inbox =
      buildInbox({
        config,
        peerId,
        outbox: this.outbox,
        connector: this.connector,
        clock: this.clock,
        logger: log,
        registry: this.registry,
        wakeCommitter: () => this.committer.wake(),
        members: () => this.mesh?.fleet?.members,
      })?.service ?? null;
    this.ops = new SidecarOps(this, log);
    this.api = new ApiServer({
      listen: config.api.listen,
      token: config.api.token,
      allowedHosts: config.api.allowedHosts,
      maxPayloadBytes: config.api.maxPayloadBytes,
      limits: {
        headersTimeoutMs: config.api.headersTimeoutMs,
        requestTimeoutMs: config.api.requestTimeoutMs,
        keepAliveTimeoutMs: config.api.keepAliveTimeoutMs,
        maxConnections: config.api.maxConnections,
      },
      backend: this.ops.wrap(this.backend()),
      logger: log,
    });
    this.committer.on('intent:committed', (rows) => {
      this.progress.lastCommitAtMs = this.clock.now();
      for (const r of rows)
        this.api.events.publish('intent:committed', {
          correlationId: r.correlationId,
          state: 'committed',
          stream: r.stream,
          streamSeq: r.seq,
        });
    });
    this.mesh = meshWanted(config)
      ? new MeshWiring({
          config,
          privateKey,
          outbox: this.ops.timedOutbox(this.outbox),
          committer: this.committer,
          events: this.api.events,
          clock: this.clock,
          logger: log,
          registry: this.registry,
          newId: (now) => newId(now),
          randomHex,
          reader: this.reader,
        })
      : null;
    this.telemetry = new TelemetryWiring({
      config,
      peerId,
      outbox: this.outbox,
      committer: this.committer,
      mesh: this.mesh?.mesh ?? null,
      clock: this.clock,
      logger: log,
      registry: this.registry,
      reduction: this.ops.telemetryReduction,
    });
    this.committer.on('intent:dead', (rows) => {
      for (const r of rows)
        this.api.events.publish('intent:dead', { correlationId: r.correlationId, state: 'dead', reason: r.reason });
    });
  }

  /** Builds the parts; opens the outbox and loads (or creates) the identity. */
  static async create(config: Config, log: Logger): Promise<Sidecar> {
    const identity = await loadOrCreateIdentity(config.mesh.keyFile);
    if (identity.created) log.info({ keyFile: config.mesh.keyFile, peerId: identity.peerId }, 'created identity');
    // Like ssh, warn rather than refuse: the key is still this node's, but others may copy it.
    if ((identity.mode & 0o077) !== 0)
      log.warn(
        { keyFile: config.mesh.keyFile, mode: `0${(identity.mode & 0o777).toString(8)}` },
        'identity file is readable or writable by group or others; chmod 600 it',
      );
    const federationSigner = await loadFederationSigner(config, identity.privateKey);
    return new Sidecar(config, identity.peerId, log, identity.privateKey, federationSigner);
  }

  /** Starts NATS (without waiting for it), the committer and the API. */
  async start(): Promise<void> {
    this.unsubscribe = this.connector.onState((s) => {
      if (s === 'connected') void this.ensureStreams();
      // A backlog left by an outage is not a stall until the committer had its chance.
      if (s === 'connected') this.progress.lastCommitAtMs = this.clock.now();
      if (s === 'connected')
        void this.inbox?.resendAcks().catch((err) => this.log.warn({ err }, 'inbox ack resend failed'));
    });
    await this.connector.start();
    // The committer waits for the streams (ReadyPublisher), so start() need not.
    if (this.connector.state === 'connected') void this.ensureStreams();
    this.committer.start();
    this.pruner?.start();
    await this.mesh?.start();
    this.telemetry.start();
    this.inbox?.start();
    this.federation?.start();
    await this.api.start();
    this.ops.start();
    if (!consensusWanted(this.config) && this.config.consensus.cohort.length > 0) {
      this.log.warn(
        { cohort: this.config.consensus.cohort.length },
        'consensus.cohort is set but consensus is off (quorum 1, mesh.enabled false): this node neither proposes nor endorses',
      );
    }
    this.log.info({ peerId: this.peerId, api: this.api.boundAddress, nats: this.connector.state }, 'sidecar started');
  }

  /** Stops the API, drains the committer, closes NATS and the outbox. Safe twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.halt.abort();
      this.unsubscribe?.();
      this.ops.stop();
      await this.api.stop();
      await this.inbox?.stop();
      await this.telemetry.stop();
      await this.mesh?.stop();
      await this.pruner?.stop();
      await this.committer.stop();
      await this.federation?.close();
      await this.connector.stop();
      await this.outbox.close();
      this.log.info({}, 'sidecar stopped');
    })();
    return this.stopping;
  }

  // Creates missing streams on every (re)connect; existing streams are left to `streams apply`.
  private ensureStreams(): Promise<void> {
    this.ensuring ??= this.checkStreamsUntilReady().finally(() => (this.ensuring = null));
    return this.ensuring;
  }

  // A failed check (a JetStream timeout while a stream leader moves, say) is retried with
  // backoff for as long as the connection holds: publishing stays closed until it succeeds,
  // and waiting for the next reconnect could mean waiting forever.
  private async checkStreamsUntilReady(): Promise<void> {
    for (let attempt = 0; !this.halt.signal.aborted && this.connector.state === 'connected'; attempt++) {
      if (await this.checkStreams()) return;
      try {
        await this.clock.sleep(
          backoffDelayMs({ baseMs: 250, maxMs: 5_000, minMs: 100 }, attempt, Math.random),
          this.halt.signal,
        );
      } catch {
        return; // stopping
      }
    }
  }

  private async checkStreams(): Promise<boolean> {
    try {
      const plan = await this.streams.plan(this.config.streams);
      const missing = this.config.streams.filter((_, i) => plan[i]?.action === 'create');
      if (missing.length > 0) {
        const results = await this.streams.apply(missing);
        this.log.info(
          { created: results.filter((r) => r.outcome === 'applied').map((r) => r.diff.stream) },
          'created missing streams',
        );
      }
      const live = await this.streams.liveRetention(this.config.subjects.prefix);
      const short = windowsWithinFence(live, this.config.subjects.prefix, this.config.nats.publishTimeoutMs);
      if (short.length > 0)
        this.log.warn(
          {
            streams: short.map((st) => `${st.name} (${st.duplicateWindowMs} ms)`),
            publishTimeoutMs: this.config.nats.publishTimeoutMs,
          },
          'duplicate window not longer than nats.publishTimeoutMs: a takeover after a cut may store a command twice',
        );
      const refusal = retentionRefusal(
        live,
        this.config.subjects.prefix,
        this.config.commit.dedupeOnlyWithinDuplicateWindow,
      );
      if (refusal !== null) {
        // Publishing stays closed: a row whose PubAck is lost could never be looked up.
        this.log.error({ reason: refusal }, 'refusing to commit to a stream that deletes what it stores');
        this.failFatal(new NetSyncError('CONFIG_INVALID', refusal, { field: 'streams' }));
        return true;
      }
      const drifted = plan.filter((d) => d.action === 'update').map((d) => d.stream);
      if (drifted.length > 0)
        this.log.warn({ streams: drifted }, 'streams drift from the spec; run `net-sync streams apply`');
      this.publisher.open();
      return true;
    } catch (err) {
      this.log.warn({ err }, 'could not check streams; retrying');
      return false;
    }
  }

  private backend(): ApiBackend {
    return {
      acceptTelemetry: (body) => this.telemetry.accept(body),
      acceptIntent: (body, tp, key) => this.mesh?.driver?.accept(body, tp, key) ?? this.intake.accept(body, tp, key),
      getIntentByKey: (key) => this.view(keyedCorrelationId(key)),
      getIntent: (id) => this.view(id),
      answerEndorsement: (id, endorse) => this.mesh?.driver?.answerEndorsement(id, endorse) ?? false,
      ...(this.inbox === null ? {} : { inbox: this.inbox }),
      ...(this.federation === null ? {} : { federation: federationBackend(this.federation) }),
      readiness: () =>
        withShard(
          readiness(this.publisher.state, this.connector.state, this.outbox, this.clock.now(), this.progress),
          this.mesh?.shardReadiness(),
        ),
      metrics: async () => ({ contentType: this.registry.contentType, body: await this.registry.metrics() }),
      status: async () => this.status(),
    };
  }

  // The API's view of an intent: its row, with the endorsements the mesh holds beyond it.
  private view(correlationId: string): IntentView | undefined {
    const row = this.outbox.get(correlationId);
    if (row === undefined) return undefined;
    return this.mesh?.overlay(intentView(row)) ?? intentView(row);
  }

  /** A snapshot for `net-sync status`. */
  status(): Record<string, unknown> {
    const oldest = this.outbox.oldestPendingCreatedAtMs();
    return {
      peerId: this.peerId,
      nats: {
        state: this.connector.state,
        streamsReady: this.publisher.state === 'connected',
        servers: this.config.nats.servers.map(redactUrl),
      },
      outbox: { command: this.outbox.counts('command'), telemetry: this.outbox.counts('telemetry') },
      ...(this.mesh === null ? {} : { mesh: this.mesh.status() }),
      oldestPendingAgeMs: oldest === null ? 0 : Math.max(0, this.clock.now() - oldest),
    };
  }
}

const decoder = new TextDecoder();

/** The API view of an outbox row. */
export function intentView(row: OutboxRow): IntentView {
  let endorsements: IntentView['endorsements'] = [];
  try {
    endorsements = (JSON.parse(decoder.decode(row.body)) as CommandBody).endorsements ?? [];
  } catch {
    // Telemetry rows carry no endorsements.
  }
  return {
    correlationId: row.correlationId,
    state: row.state,
    subject: row.subject,
    ...(row.streamSeq === null ? {} : { streamSeq: row.streamSeq }),
    ...(row.stream === null ? {} : { stream: row.stream }),
    endorsements,
    attempts: row.attempts,
    ...(row.lastError === null ? {} : { lastError: row.lastError }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    createdAt: new Date(row.createdAtMs).toISOString(),
    ...(row.committedAtMs === null ? {} : { committedAt: new Date(row.committedAtMs).toISOString() }),
  };
}

// Trace and span ids for every accept: one randomFillSync per 4 KiB instead of a
// randomBytes call (a syscall and a Buffer) per id. Each byte is handed out once.
const RANDOM_POOL_BYTES = 4_096;
const randomPool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
let randomPoolOffset = RANDOM_POOL_BYTES;

function randomHex(bytes: number): string {
  if (bytes > RANDOM_POOL_BYTES) return randomBytes(bytes).toString('hex');
  if (randomPoolOffset + bytes > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const hex = randomPool.toString('hex', randomPoolOffset, randomPoolOffset + bytes);
  randomPoolOffset += bytes;
  return hex;
}
