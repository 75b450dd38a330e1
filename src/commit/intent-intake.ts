/**
 * Accepting an agent's intent: validate, assign a correlation ID, make it durable, wake the
 * committer. "Accepted" is only returned once the row is on disk.
 */
import { buildCommandRow } from '../core/command-message.js';
import { assertSameIntent, keyedCorrelationId } from '../core/idempotency.js';
import { parseIntentInput, type IntentLimits } from '../core/intent-input.js';
import type { IntentState } from '../core/intent.js';
import type { Clock, Outbox } from '../core/ports.js';
import type { PayloadRef } from '../core/payload-ref.js';
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
  externalise?: (correlationId: string, payload: unknown, payloadBytes: number) => Promise<PayloadRef | undefined>;
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
    // The payload's bytes go to disk before its row, so a stored row always finds them.
    const payloadRef = await this.opts.externalise?.(correlationId, input.payload, input.payloadBytes);
    const row = buildCommandRow({
      correlationId,
      subject: input.subject,
      payload: input.payload,
      ...(payloadRef === undefined ? {} : { payloadRef, payloadDigest: payloadRef.digest }),
      origin: this.opts.origin,
      traceparent: childTraceparent(traceparent, this.opts.randomHex),
      createdAtMs: now,
      soleEndorser: true,
    });
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
}
