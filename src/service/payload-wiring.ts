/**
 * Payloads by reference, wired (docs/payloads.md): the store in the outbox file, the Object Store
 * bucket, the intake's hook and the publisher that uploads an object before its command.
 */
import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import { SqlitePayloadStore, type SqliteOutbox } from '../buffer/index.js';
import type { Config } from '../config/schema.js';
import type { CommandPublisher, Clock } from '../core/ports.js';
import type { PayloadRef } from '../core/payload-ref.js';
import { JetStreamObjectStore, type NatsConnector } from '../nats/index.js';
import type { Logger } from '../observability/logger.js';
import {
  createPayloadMetrics,
  PayloadIntake,
  type PayloadRefReport,
  PayloadRefPublisher,
  PayloadUploader,
  verifyPayloadRefs,
} from '../payloads/index.js';
import { PeriodicTask } from '../runtime/periodic-task.js';

/** Test-only faults (docs/payloads.md#testing-the-crash-window); never set in production. */
export interface PayloadFaults {
  /** Runs after an object is uploaded, before its command is published. */
  afterUpload?: (ref: PayloadRef) => void;
}

/** Options of {@link PayloadWiring}. */
export interface PayloadWiringOptions {
  config: Pick<Config, 'payloads' | 'nats'>;
  outbox: SqliteOutbox;
  connector: NatsConnector;
  clock: Clock;
  logger: Logger;
  /** Where the metrics go; absent: nowhere (a one-off CLI run). */
  registry?: Registry;
  faults?: PayloadFaults;
  /**
   * Upload stored payloads at once and every second until each is in the bucket (consensus on:
   * another node may commit the command, and it has no copy). Off: the committer uploads.
   */
  uploadEagerly?: boolean;
}

const nodeSha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

// Payloads whose row is gone are deleted this long after they were stored, checked hourly.
const ORPHAN_GRACE_MS = 3_600_000;

/** The payload parts of one sidecar. */
export class PayloadWiring {
  readonly store: SqlitePayloadStore;
  readonly objects: JetStreamObjectStore;
  readonly intake: PayloadIntake;
  private readonly pruner: PeriodicTask;
  private readonly uploadTask: PeriodicTask | null;
  private readonly metrics;
  private guard: PayloadRefPublisher | null = null;
  private uploader: PayloadUploader | null = null;

  constructor(private readonly opts: PayloadWiringOptions) {
    const { config } = opts;
    this.metrics = createPayloadMetrics(opts.registry ?? new Registry());
    this.store = new SqlitePayloadStore(opts.outbox.database);
    this.objects = new JetStreamObjectStore({
      connection: () => opts.connector.connection,
      create: {
        maxAgeMs: config.payloads.bucketMaxAgeMs,
        maxBytes: config.payloads.bucketMaxBytes,
        replicas: config.payloads.replicas,
      },
    });
    this.intake = new PayloadIntake({
      store: this.store,
      clock: opts.clock,
      inlineMaxBytes: config.payloads.inlineMaxBytes,
      bucket: config.payloads.bucket,
      metrics: this.metrics,
      sha256: nodeSha256,
    });
    this.pruner = new PeriodicTask({
      clock: opts.clock,
      logger: opts.logger,
      periodMs: ORPHAN_GRACE_MS,
      runAtStart: false,
      failureMessage: 'payload prune failed',
      round: async () => this.store.pruneOrphans(opts.clock.now() - ORPHAN_GRACE_MS, 1_000),
    });
    this.uploadTask =
      opts.uploadEagerly === true
        ? new PeriodicTask({
            clock: opts.clock,
            logger: opts.logger,
            periodMs: 1_000,
            runAtStart: true,
            failureMessage: 'payload upload round failed',
            round: async () => this.uploader?.kick(),
          })
        : null;
  }

  /** Starts uploading a newly stored payload now, when uploads are eager (consensus on). */
  uploadSoon(): void {
    if (this.uploadTask !== null) void this.uploader?.kick();
  }

  /** `inner` with the object upload in front of every command that carries a reference. */
  publisher(inner: CommandPublisher): CommandPublisher {
    this.guard = new PayloadRefPublisher({
      inner,
      objects: this.objects,
      store: this.store,
      logger: this.opts.logger.child({ component: 'payloads' }),
      metrics: this.metrics,
      ...(this.opts.faults?.afterUpload === undefined ? {} : { afterUpload: this.opts.faults.afterUpload }),
      now: () => this.opts.clock.now(),
      sha256: nodeSha256,
    });
    this.uploader = new PayloadUploader({
      store: this.store,
      uploads: this.guard,
      bucket: this.opts.config.payloads.bucket,
      state: () => inner.state,
      logger: this.opts.logger.child({ component: 'payloads' }),
    });
    return this.guard;
  }

  /** `reconcile --verify`: the objects of the committed commands that carry a reference. */
  async verify(signal?: AbortSignal): Promise<PayloadRefReport> {
    const outbox = this.opts.outbox;
    const rows: Array<{ correlationId: string; body: Uint8Array }> = [];
    for (let after = 0; ; ) {
      const page = outbox.listByState(['committed'], 10_000, after);
      for (const r of page) if (r.kind === 'command') rows.push(r);
      if (page.length < 10_000) break;
      after = page[page.length - 1]!.seq;
    }
    return verifyPayloadRefs(rows, this.objects, signal);
  }

  start(): void {
    this.pruner.start();
    this.uploadTask?.start();
  }

  async stop(): Promise<void> {
    await this.uploadTask?.stop();
    await this.pruner.stop();
  }
}
