/**
 * The accept side of payloads by reference: a payload above `inlineMaxBytes` is encoded as its
 * object (canonical JSON), stored durably in the outbox file, and replaced by a reference.
 */
import { sha256Hex } from '../core/digest.js';
import { encodePayload, type PayloadRef, type PayloadStore } from '../core/payload-ref.js';
import type { Clock } from '../core/ports.js';
import type { PayloadMetrics } from './metrics.js';

/** Options of {@link PayloadIntake}. */
export interface PayloadIntakeOptions {
  store: PayloadStore;
  clock: Clock;
  /** `payloads.inlineMaxBytes`: larger payloads (compact JSON bytes) go by reference. */
  inlineMaxBytes: number;
  /** `payloads.bucket`. */
  bucket: string;
  metrics?: PayloadMetrics;
  /** Lower-case hex SHA-256; default the pure one of core. The sidecar passes node:crypto's (~20× faster). */
  sha256?: (bytes: Uint8Array) => string;
}

/** Decides inline or by reference, and stores what goes by reference. */
export class PayloadIntake {
  constructor(private readonly opts: PayloadIntakeOptions) {}

  /**
   * The reference to carry instead of `payload` (its bytes durable beside the outbox file when this
   * resolves), or undefined when the payload stays inline. `payloadBytes` is its compact JSON size;
   * `inlineMaxBytes` lowers the threshold (a gossiped proposal must fit its envelope). `canonical`:
   * the payload's canonical JSON bytes when already at hand (the request's own, when they were
   * canonical: `canonicalPayloadBytes`), stored as they are instead of serialising `payload` again.
   */
  async externalise(
    correlationId: string,
    payload: unknown,
    payloadBytes: number,
    opts: { inlineMaxBytes?: number; canonical?: Uint8Array } = {},
  ): Promise<PayloadRef | undefined> {
    const inlineMaxBytes = opts.inlineMaxBytes ?? this.opts.inlineMaxBytes;
    if (payloadBytes <= Math.min(inlineMaxBytes, this.opts.inlineMaxBytes)) return undefined;
    const { bytes, digest } =
      opts.canonical === undefined
        ? encodePayload(payload, this.opts.sha256)
        : { bytes: opts.canonical, digest: (this.opts.sha256 ?? sha256Hex)(opts.canonical) };
    await this.opts.store.put(correlationId, bytes, digest, this.opts.clock.now());
    this.opts.metrics?.stored.inc();
    return { bucket: this.opts.bucket, name: correlationId, size: bytes.length, digest };
  }
}
