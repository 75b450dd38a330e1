/**
 * Accepting an agent's intent: validate, assign a correlation ID, make it durable, wake the
 * committer. "Accepted" is only returned once the row is on disk.
 */
import { buildCommandRow } from '../core/command-message.js';
import { assertSameIntent, keyedCorrelationId } from '../core/idempotency.js';
import {
  batchAnswer,
  parseIntentBatch,
  replayedItem,
  type BatchAnswer,
  type BatchItemResult,
} from '../core/intent-batch.js';
import { parseIntentInput, type IntentInput, type IntentLimits } from '../core/intent-input.js';
import type { IntentState, NewOutboxRow } from '../core/intent.js';
import type { Clock, Outbox } from '../core/ports.js';
import type { PayloadRef } from '../core/payload-ref.js';
import { sameBytes } from '../core/same-bytes.js';
import { childTraceparent } from '../core/trace-context.js';
import type { CommitMetrics } from './metrics.js';

/** Collaborators of the intake. */
export interface IntentIntakeOptions {
  outbox: Outbox;
  clock: Clock;
  limits: IntentLimits;
  /** This sidecar's peer ID (`Net-Sync-Origin`). */
  origin: string;
  /** New ULID for `nowMs`. */
  newId: (nowMs: number) => string;
  randomHex: (bytes: number) => string;
  /** Called after each durable accept (e.g. the committer's wake). */
  onAccepted: (correlationId: string) => void;
  metrics?: CommitMetrics;
  /**
   * Stores a payload too large to carry inline and returns its reference (durable when it
   * resolves), or undefined to keep it inline (docs/payloads.md). Absent: every payload is inline.
   */
  externalise?: (
    correlationId: string,
    payload: unknown,
    payloadBytes: number,
    canonical?: Uint8Array,
  ) => Promise<PayloadRef | undefined>;
}

/** The answer to an accepted submission. */
export interface Accepted {
  correlationId: string;
  state: IntentState;
}

/** Validates and durably accepts intents (consensus off: the node is its own quorum). */
export class IntentIntake {
  constructor(private readonly opts: IntentIntakeOptions) {}

  /** Throws INPUT_INVALID naming the field, or OUTBOX_IO when the row could not be stored. */
  async accept(body: unknown, traceparent?: string, idempotencyKey?: string): Promise<Accepted> {
    const input = parseIntentInput(body, this.opts.limits);
    const started = performance.now();
    const now = this.opts.clock.now();
    const correlationId = idempotencyKey === undefined ? this.opts.newId(now) : keyedCorrelationId(idempotencyKey);
    const known = idempotencyKey === undefined ? undefined : this.opts.outbox.get(correlationId);
    if (known !== undefined) {
      assertSameIntent(known.body, input.subject, input.payload);
      return { correlationId, state: known.state };
    }
    const row = await this.rowOf(correlationId, input, traceparent, now);
    await this.opts.outbox.append([row]);
    if (idempotencyKey !== undefined) {
      // Two requests with one key raced: the first stored wins, and the other must match it.
      const stored = this.opts.outbox.get(correlationId);
      if (stored !== undefined) assertSameIntent(stored.body, input.subject, input.payload);
    }
    this.opts.metrics?.acceptLatency.observe((performance.now() - started) / 1000);
    this.opts.metrics?.accepted.inc({ kind: 'command' });
    this.opts.onAccepted(correlationId);
    return { correlationId, state: row.state };
  }

  /**
   * The batch form (docs/contracts.md#batches): validates every item, stores the valid new ones in
   * ONE transaction and resolves once it is durable, with one result per item in request order. An
   * item already held under its `idempotencyKey` answers with that intent. Throws for the batch as a
   * whole only: INPUT_INVALID (empty), BATCH_TOO_LARGE, OUTBOX_IO (nothing stored).
   */
  async acceptBatch(body: readonly unknown[], traceparent?: string): Promise<BatchAnswer> {
    const items = parseIntentBatch(body, this.opts.limits);
    const started = performance.now();
    const now = this.opts.clock.now();
    const results = new Map<number, BatchItemResult>();
    const fresh: Array<{ index: number; key: string | undefined; input: IntentInput; row: NewOutboxRow }> = [];
    for (const item of items) {
      if ('error' in item) results.set(item.index, item);
      if (!('input' in item)) continue;
      const { index, input, idempotencyKey: key } = item;
      const correlationId = key === undefined ? this.opts.newId(now) : keyedCorrelationId(key);
      const known = key === undefined ? undefined : this.opts.outbox.get(correlationId);
      if (known !== undefined) {
        results.set(index, replayedItem(index, known, input));
        continue;
      }
      fresh.push({ index, key, input, row: await this.rowOf(correlationId, input, traceparent, now) });
    }
    if (fresh.length > 0) await this.opts.outbox.append(fresh.map((f) => f.row));
    for (const { index, key, input, row } of fresh) {
      // A concurrent request with the same key stored first: that intent is the answer, if it matches.
      const stored = key === undefined ? undefined : this.opts.outbox.get(row.correlationId);
      const ours = stored === undefined || sameBytes(stored.body, row.body);
      results.set(
        index,
        ours ? { index, correlationId: row.correlationId, state: row.state } : replayedItem(index, stored, input),
      );
      if (ours) this.opts.onAccepted(row.correlationId);
    }
    if (fresh.length > 0) {
      this.opts.metrics?.acceptLatency.observe((performance.now() - started) / 1000);
      this.opts.metrics?.accepted.inc({ kind: 'command' }, fresh.length);
    }
    return batchAnswer(items, results);
  }

  private async rowOf(
    correlationId: string,
    input: IntentInput,
    traceparent: string | undefined,
    now: number,
  ): Promise<NewOutboxRow> {
    // The payload's bytes go to disk before its row, so a stored row always finds them.
    const payloadRef = await this.opts.externalise?.(
      correlationId,
      input.payload,
      input.payloadBytes,
      input.payloadJson,
    );
    return buildCommandRow({
      correlationId,
      subject: input.subject,
      payload: input.payload,
      ...(payloadRef === undefined ? {} : { payloadRef, payloadDigest: payloadRef.digest }),
      origin: this.opts.origin,
      traceparent: childTraceparent(traceparent, this.opts.randomHex),
      createdAtMs: now,
      soleEndorser: true,
    });
  }
}
