/**
 * The commit side of payloads by reference: a CommandPublisher in front of the JetStream one that,
 * for a command carrying a `payloadRef`, makes sure the object is in the bucket with the
 * reference's digest before the command goes out. So a command whose object is missing is never
 * published; a retried upload replaces nothing (the object's info is read first, and the put is
 * create-only); and a crash between upload and publish leaves the row `in-flight`, resolved by the
 * commit path's look-before-resend rule, whose resend finds the object present (docs/payloads.md).
 */
import { HEADER } from '../core/command-message.js';
import { sha256Hex } from '../core/digest.js';
import { KeyedSerial } from '../core/keyed-serial.js';
import {
  objectStoreDigest,
  payloadRefOf,
  type PayloadObjects,
  type PayloadRef,
  type PayloadStore,
  type StoredObjectInfo,
} from '../core/payload-ref.js';
import type {
  CommandPublisher,
  ConnectionListener,
  ConnectionState,
  OutboundMessage,
  PublishDone,
  PublishResult,
} from '../core/ports.js';
import { sendMessage } from '../core/send-message.js';
import type { Logger } from '../observability/logger.js';
import type { PayloadMetrics } from './metrics.js';

type Failure = Extract<PublishResult, { kind: 'failed' }>;

/** Options of {@link PayloadRefPublisher}. */
export interface PayloadRefPublisherOptions {
  inner: CommandPublisher;
  objects: PayloadObjects;
  /** Where this node's accepted payloads wait for their upload. */
  store: PayloadStore;
  logger: Logger;
  metrics?: PayloadMetrics;
  /**
   * Called after an object is uploaded and before its command is published. For tests of the crash
   * window only (the CLI sets it from `NETSYNC_TEST_FAULT`, docs/payloads.md); never set in production.
   */
  afterUpload?: (ref: PayloadRef) => void;
  /** Wall clock, ms (the uploaded mark). Default `Date.now`. */
  now?: () => number;
  /** Lower-case hex SHA-256; default the pure one of core. The sidecar passes node:crypto's (~20× faster). */
  sha256?: (bytes: Uint8Array) => string;
}

function failed(code: string, reason: string, retryable: boolean): Failure {
  return { kind: 'failed', retryable, outcomeUnknown: false, code, reason };
}

/** Uploads a command's payload object (when missing) before publishing the command. */
export class PayloadRefPublisher implements CommandPublisher {
  private readonly serial = new KeyedSerial();

  constructor(private readonly opts: PayloadRefPublisherOptions) {}

  get state(): ConnectionState {
    return this.opts.inner.state;
  }

  onState(listener: ConnectionListener): () => void {
    return this.opts.inner.onState(listener);
  }

  /** Without a reference, straight through to the inner publisher; with one, after the object is ensured. */
  send<C>(msg: OutboundMessage, ctx: C, done: PublishDone<C>, signal?: AbortSignal): void {
    if (msg.headers[HEADER.payloadRef] === undefined) sendMessage(this.opts.inner, msg, ctx, done, signal);
    else void this.publish(msg, signal).then((r) => done(ctx, r));
  }

  async publish(msg: OutboundMessage, signal?: AbortSignal): Promise<PublishResult> {
    if (msg.headers[HEADER.payloadRef] === undefined) return this.opts.inner.publish(msg, signal);
    const ref = payloadRefOf(msg.body);
    if (ref === undefined)
      return failed('PAYLOAD_REF_INVALID', 'Net-Sync-Payload-Ref set but no payloadRef in the body', false);
    const failure = await this.ensureObject(ref, msg.msgId);
    if (failure !== null) return failure;
    if (signal?.aborted) return failed('ABORTED', 'publish aborted after the payload upload', true);
    return this.opts.inner.publish(msg, signal);
  }

  /**
   * Makes sure the object of `ref` is in the bucket with its digest, uploading this node's copy
   * when it is absent. Null when it is there; else why not (as a publish failure). One check and
   * upload per name at a time: two callers never upload the same object at once.
   */
  async ensureObject(ref: PayloadRef, correlationId: string): Promise<Failure | null> {
    let failure: Failure | null = null;
    await this.serial.run(`${ref.bucket}/${ref.name}`, async () => {
      failure = await this.ensure(ref, correlationId);
      if (failure === null) this.markUploaded(correlationId);
    });
    return failure;
  }

  private markUploaded(correlationId: string): void {
    try {
      this.opts.store.markUploaded(correlationId, (this.opts.now ?? Date.now)());
    } catch (err) {
      this.opts.logger.warn({ err, correlationId }, 'payload upload mark not stored');
    }
  }

  // Null when the object is in the bucket with the reference's digest; else why not.
  private async ensure(ref: PayloadRef, correlationId: string): Promise<Failure | null> {
    const { objects, store, metrics, logger } = this.opts;
    try {
      const present = await objects.info(ref);
      if (present !== null) return this.judge(ref, present, 'present');
      const bytes = store.get(correlationId);
      if (bytes === undefined) {
        // Another node proposed it and has not uploaded yet (consensus); or the file lost it.
        metrics?.ensured.inc({ result: 'missing' });
        return failed('PAYLOAD_MISSING', `object ${ref.bucket}/${ref.name} not stored yet and no local copy`, true);
      }
      // The object's info takes its digest from the reference, so the bytes are checked against it
      // here, once (the Object Store put does not hash them again; docs/payloads.md).
      if (bytes.length !== ref.size || (this.opts.sha256 ?? sha256Hex)(bytes) !== ref.digest) {
        metrics?.ensured.inc({ result: 'conflict' });
        return failed('PAYLOAD_CORRUPT', `local copy of ${ref.name} does not match its reference`, false);
      }
      const started = performance.now();
      const stored = await objects.putIfAbsent(ref, bytes);
      metrics?.uploadSeconds.observe((performance.now() - started) / 1000);
      const verdict = this.judge(ref, stored, 'uploaded');
      if (verdict === null) this.opts.afterUpload?.(ref);
      return verdict;
    } catch (err) {
      metrics?.ensured.inc({ result: 'failed' });
      logger.warn({ err, correlationId, bucket: ref.bucket }, 'payload object not stored; retrying');
      const reason = err instanceof Error ? err.message : String(err);
      return failed('PAYLOAD_UPLOAD', `object ${ref.bucket}/${ref.name}: ${reason}`, true);
    }
  }

  private judge(ref: PayloadRef, info: StoredObjectInfo, result: 'present' | 'uploaded'): Failure | null {
    if (info.size === ref.size && info.digest === objectStoreDigest(ref.digest)) {
      this.opts.metrics?.ensured.inc({ result });
      return null;
    }
    this.opts.metrics?.ensured.inc({ result: 'conflict' });
    return failed(
      'PAYLOAD_CONFLICT',
      `object ${ref.bucket}/${ref.name} exists with another digest or size (${info.digest}, ${info.size} bytes)`,
      false,
    );
  }
}
