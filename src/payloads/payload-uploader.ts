/**
 * With consensus on, the proposer uploads its large payloads as soon as it can: another node of
 * the shard may be the committer, and it publishes a command only once its object is in the bucket
 * (it holds no copy). Uploads run at accept time when NATS is up, then every round until each
 * object is there (docs/payloads.md#over-the-mesh).
 */
import type { PayloadStore } from '../core/payload-ref.js';
import type { ConnectionState } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import type { PayloadRefPublisher } from './payload-ref-publisher.js';

/** Options of {@link PayloadUploader}. */
export interface PayloadUploaderOptions {
  store: PayloadStore;
  /** The publisher whose check-and-upload is used, so an object is never uploaded twice at once. */
  uploads: Pick<PayloadRefPublisher, 'ensureObject'>;
  /** `payloads.bucket`. */
  bucket: string;
  /** NATS's state: nothing is tried while it is not `connected`. */
  state: () => ConnectionState;
  logger: Logger;
}

const PAGE = 64;

/** Uploads stored payloads not yet known to be in the bucket. */
export class PayloadUploader {
  private running: Promise<void> | null = null;

  constructor(private readonly opts: PayloadUploaderOptions) {}

  /** Starts a round unless one runs; resolves when that round ends. Never rejects. */
  kick(): Promise<void> {
    this.running ??= this.round().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** One round: each stored payload not uploaded yet, oldest first, until one fails. */
  async round(): Promise<void> {
    const { store, uploads, bucket, logger } = this.opts;
    if (this.opts.state() !== 'connected') return;
    let pending: ReturnType<PayloadStore['notUploaded']>;
    try {
      pending = store.notUploaded(PAGE);
    } catch (err) {
      logger.warn({ err }, 'payload upload round failed');
      return;
    }
    for (const p of pending) {
      const ref = { bucket, name: p.correlationId, size: p.size, digest: p.digest };
      const failure = await uploads.ensureObject(ref, p.correlationId);
      // PAYLOAD_CONFLICT stays for the committer to report as dead; anything else waits a round.
      if (failure?.retryable) return;
    }
  }
}
