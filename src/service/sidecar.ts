/**
 * The composition root: config, then adapters, then use cases, built once; then one ordered
 * list of parts, started in order and stopped in reverse (runtime/lifecycle.ts). One Sidecar is
 * one `net-sync start`.
 */
import { randomFillSync } from 'node:crypto';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { monotonicFactory } from 'ulid';
import { ApiServer, intentView, type ApiBackend, type IntentView } from '../api/index.js';
import { createCommitMetrics, IntentIntake, OutboxCommitter, OutboxPruner } from '../commit/index.js';
import { createBufferMetrics, SqliteOutbox } from '../buffer/index.js';
import type { PrivateKey } from '@libp2p/interface';
import type { Config } from '../config/schema.js';
import type { NetSyncError } from '../core/errors.js';
import { redactUrl } from '../core/redact-url.js';
import { keyedCorrelationId } from '../core/idempotency.js';
import { sharedIdLookupAfterMs, takeoverLookupAfterMs } from '../core/retention-hazard.js';
import type { InboxService } from '../inbox/index.js';
import { loadOrCreateIdentity } from '../mesh/identity.js';
import { createNatsMetrics, JetStreamPublisher, JetStreamReader, NatsConnector, StreamManager } from '../nats/index.js';
import type { Logger } from '../observability/logger.js';
import { registerOutboxGauges } from '../observability/outbox-gauges.js';
import { Lifecycle } from '../runtime/lifecycle.js';
import { randomHex } from '../runtime/random-hex.js';
import { SystemClock } from '../runtime/system-clock.js';
import { unsafeRetention } from './admin-session.js';
import { deadLetterNotices } from './dead-letters.js';
import { buildInbox } from './inbox-wiring.js';
import { readiness, withShard } from './readiness.js';
import { consensusWanted, meshWanted, MeshWiring } from './mesh-wiring.js';
import { PayloadWiring, type PayloadFaults } from './payload-wiring.js';
import { ReadyPublisher } from './ready-publisher.js';
import { TelemetryWiring } from './telemetry-wiring.js';
import { buildFederation, federationBackend, loadFederationSigner } from './federation-wiring.js';
import type { DsseSigner } from '../core/federation-trust.js';
import type { FederationWiring } from './federation-wiring.js';
import { SidecarOps } from './sidecar-ops.js';
import { StreamGuard } from './stream-guard.js';

/** A running sidecar's parts, for the CLI, the demo, tests and benchmarks. */
export class Sidecar {
  readonly clock = new SystemClock();
  readonly registry = new Registry();
  readonly commitMetrics = createCommitMetrics(this.registry);
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
  /** Payloads above `payloads.inlineMaxBytes`, stored by reference (docs/payloads.md). */
  readonly payloads: PayloadWiring;
  private readonly lifecycle: Lifecycle;
  // The streams' shortest duplicate window as last read by the stream guard (built after the committer).
  private streamWindowMs: () => number | undefined = () => undefined;
  private stopping: Promise<void> | null = null;
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
    faults: PayloadFaults = {},
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'net_sync_process_' });
    const commitMetrics = this.commitMetrics;
    this.outbox = SqliteOutbox.open({
      ...config.buffer,
      // With consensus on, five nodes' fsyncs share a disk and each stalled the event loop
      // (gossip, timers, HTTP) for its whole length: appends fsync on the thread pool instead.
      fsyncOffLoop: consensusWanted(config),
      logger: log,
      metrics: createBufferMetrics(this.registry),
    });
    registerOutboxGauges(this.registry, this.outbox, this.clock);
    const natsMetrics = createNatsMetrics(this.registry);
    this.connector = new NatsConnector({ config: config.nats, logger: log, metrics: natsMetrics });
    this.payloads = new PayloadWiring({
      config,
      outbox: this.outbox,
      connector: this.connector,
      clock: this.clock,
      logger: log,
      registry: this.registry,
      faults,
      uploadEagerly: consensusWanted(config),
    });
    this.publisher = new ReadyPublisher(
      this.payloads.publisher(
        new JetStreamPublisher({
          connector: this.connector,
          timeoutMs: config.nats.publishTimeoutMs,
          logger: log,
          metrics: natsMetrics,
        }),
      ),
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
      // Read on every connect before publishing opens (StreamGuard), so the lookup after an outage has it.
      duplicateWindowMs: () => this.streamWindowMs(),
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
    const newId = monotonicFactory(pooledRandom());
    this.intake = new IntentIntake({
      outbox: this.outbox,
      clock: this.clock,
      origin: peerId,
      metrics: commitMetrics,
      limits: {
        prefix: config.subjects.prefix,
        maxPayloadBytes: config.payloads.maxBytes,
        maxBatchItems: config.api.maxBatchItems,
      },
      newId: (now) => newId(now),
      randomHex,
      onAccepted: () => this.committer.wake(),
      externalise: (id, payload, bytes, canonical) =>
        this.payloads.intake.externalise(id, payload, bytes, canonical === undefined ? {} : { canonical }),
    });
    this.federation = buildFederation({
      config,
      signer: federationSigner,
      peerId,
      reader: this.reader,
      outbox: this.outbox,
      connector: this.connector,
      clock: this.clock,
      logger: log,
      newId: (now) => newId(now),
      randomHex,
      committer: this.committer,
      registry: this.registry,
      cohort: () => this.mesh?.driver,
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
        resolvePayload: (ref) => this.payloads.objects.resolve(ref),
      })?.service ?? null;
    this.ops = new SidecarOps(this, log);
    this.api = new ApiServer({
      listen: config.api.listen,
      token: config.api.token,
      allowedHosts: config.api.allowedHosts,
      maxPayloadBytes: config.api.maxPayloadBytes,
      maxIntentPayloadBytes: config.payloads.maxBytes,
      maxBatchBytes: config.api.maxBatchBytes,
      limits: {
        headersTimeoutMs: config.api.headersTimeoutMs,
        requestTimeoutMs: config.api.requestTimeoutMs,
        keepAliveTimeoutMs: config.api.keepAliveTimeoutMs,
        maxConnections: config.api.maxConnections,
      },
      backend: this.ops.wrap(this.backend()),
      logger: log,
    });
    this.mesh = meshWanted(config)
      ? new MeshWiring({
          config,
          privateKey,
          outbox: this.ops.timedOutbox(this.outbox),
          committer: this.committer,
          events: this.meshEvents(),
          clock: this.clock,
          logger: log,
          registry: this.registry,
          newId: (now) => newId(now),
          randomHex,
          reader: this.reader,
          federation: this.federation?.cohort,
          // Proposals must fit a gossip envelope: larger payloads go by reference, uploaded at once.
          externalise: async (id, payload, bytes, canonical) => {
            const inlineMaxBytes = Math.min(config.payloads.inlineMaxBytes, config.api.maxPayloadBytes);
            const ref = await this.payloads.intake.externalise(id, payload, bytes, {
              inlineMaxBytes,
              ...(canonical === undefined ? {} : { canonical }),
            });
            if (ref !== undefined) this.payloads.uploadSoon();
            return ref;
          },
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
    const streamGuard = new StreamGuard({
      config,
      connector: this.connector,
      streams: this.streams,
      publisher: this.publisher,
      clock: this.clock,
      logger: log,
      onFatal: (err) => this.failFatal(err),
    });
    this.streamWindowMs = () => streamGuard.duplicateWindowMs;
    this.lifecycle = new Lifecycle(
      [
        { name: 'outbox', stop: () => this.outbox.close() },
        { name: 'events', ...this.subscriptions() },
        { name: 'nats', start: () => this.connector.start(), stop: () => this.connector.stop() },
        streamGuard,
        { name: 'federation', start: () => this.federation?.start(), stop: () => this.federation?.close() },
        { name: 'committer', start: () => this.committer.start(), stop: () => this.committer.stop() },
        { name: 'pruner', start: () => this.pruner?.start(), stop: () => this.pruner?.stop() },
        { name: 'payloads', start: () => this.payloads.start(), stop: () => this.payloads.stop() },
        { name: 'mesh', start: () => this.mesh?.start(), stop: () => this.mesh?.stop() },
        { name: 'telemetry', start: () => this.telemetry.start(), stop: () => this.telemetry.stop() },
        { name: 'inbox', start: () => this.inbox?.start(), stop: () => this.inbox?.stop() },
        { name: 'api', start: () => this.api.start(), stop: () => this.api.stop() },
        { name: 'ops', start: () => this.ops.start(), stop: () => this.ops.stop() },
      ],
      log,
    );
  }

  // The consensus driver's events go to the agent (SSE); a commit announced by the mesh also
  // reaches federation's ledger, which waits for the receipt of every event the cohort committed.
  private meshEvents(): { publish(event: string, data: unknown): void } {
    return {
      publish: (event, data) => {
        this.api.events.publish(event, data);
        const d = data as { correlationId?: unknown; streamSeq?: unknown };
        if (event === 'intent:committed' && typeof d.correlationId === 'string' && typeof d.streamSeq === 'number')
          this.federation?.settled(d.correlationId, d.streamSeq);
      },
    };
  }

  // Every event subscription between parts, in one place, and the one call that ends them.
  private subscriptions(): { start(): void; stop(): void } {
    const onState = (s: string): void => {
      if (s !== 'connected') return;
      // A backlog left by an outage is not a stall until the committer had its chance.
      this.progress.lastCommitAtMs = this.clock.now();
      void this.inbox?.resendAcks().catch((err) => this.log.warn({ err }, 'inbox ack resend failed'));
    };
    const onCommitted = (rows: Array<{ correlationId: string; stream: string | null; seq: number }>): void => {
      this.progress.lastCommitAtMs = this.clock.now();
      for (const r of rows)
        this.api.events.publish('intent:committed', {
          correlationId: r.correlationId,
          state: 'committed',
          stream: r.stream,
          streamSeq: r.seq,
        });
    };
    const onDead = (rows: Array<{ correlationId: string; reason: string }>): void => {
      for (const r of rows)
        this.api.events.publish('intent:dead', { correlationId: r.correlationId, state: 'dead', reason: r.reason });
    };
    let offState: (() => void) | null = null;
    return {
      start: () => {
        offState = this.connector.onState(onState);
        this.committer.on('intent:committed', onCommitted);
        this.committer.on('intent:dead', onDead);
      },
      stop: () => {
        offState?.();
        this.committer.off('intent:committed', onCommitted);
        this.committer.off('intent:dead', onDead);
      },
    };
  }

  /** Builds the parts; opens the outbox and loads (or creates) the identity. */
  static async create(config: Config, log: Logger, faults: PayloadFaults = {}): Promise<Sidecar> {
    const identity = await loadOrCreateIdentity(config.mesh.keyFile);
    if (identity.created) log.info({ keyFile: config.mesh.keyFile, peerId: identity.peerId }, 'created identity');
    // Like ssh, warn rather than refuse: the key is still this node's, but others may copy it.
    if ((identity.mode & 0o077) !== 0)
      log.warn(
        { keyFile: config.mesh.keyFile, mode: `0${(identity.mode & 0o777).toString(8)}` },
        'identity file is readable or writable by group or others; chmod 600 it',
      );
    const federationSigner = await loadFederationSigner(config, identity.privateKey);
    return new Sidecar(config, identity.peerId, log, identity.privateKey, federationSigner, faults);
  }

  /** Starts NATS (without waiting for it), the streams check, the committer, the use cases and the API. */
  async start(): Promise<void> {
    await this.lifecycle.start();
    if (!consensusWanted(this.config) && this.config.consensus.cohort.length > 0) {
      this.log.warn(
        { cohort: this.config.consensus.cohort.length },
        'consensus.cohort is set but consensus is off (quorum 1, mesh.enabled false): ' +
          'this node neither proposes nor endorses',
      );
    }
    this.log.info({ peerId: this.peerId, api: this.api.boundAddress, nats: this.connector.state }, 'sidecar started');
  }

  /** Stops the API first and the outbox last: the list in reverse. Safe twice. */
  stop(): Promise<void> {
    this.stopping ??= this.lifecycle.stop().then(() => this.log.info({}, 'sidecar stopped'));
    return this.stopping;
  }

  private backend(): ApiBackend {
    return {
      acceptTelemetry: (body) => this.telemetry.accept(body),
      acceptIntent: (body, tp, key) => this.mesh?.driver?.accept(body, tp, key) ?? this.intake.accept(body, tp, key),
      acceptIntents: (items, tp) => this.mesh?.driver?.acceptBatch(items, tp) ?? this.intake.acceptBatch(items, tp),
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

/**
 * A PRNG for `ulid` that draws from node:crypto 4 KiB at a time. ulid's default makes one
 * WebCrypto call per character, 16 per ID: 3 % of the main thread on the commit path (bench (c)).
 * A byte / 256 picks each of the 32 ULID characters with the same probability.
 */
function pooledRandom(): () => number {
  const pool = new Uint8Array(4_096);
  let at = pool.length;
  return () => {
    if (at === pool.length) {
      randomFillSync(pool);
      at = 0;
    }
    return pool[at++]! / 256;
  };
}
