/**
 * Receiving events from partners (docs/federation.md, Receiving): each `receive` partner's
 * events subject is read by a durable consumer; every message is judged (`judgeInboundEvent`,
 * then equivocation against the record), an accepted event is recorded durably before its
 * signed `accepted` receipt is queued in the outbox, then pushed to the agent with the inbox's
 * convention (SUCCESS / RETRY / DROP). A redelivery, or a byte copy of an accepted event under
 * another message ID, is absorbed by the record: the agent sees each event once. A refused
 * message is never delivered; it gets one signed `rejected` receipt with its reason, and is
 * terminated once that receipt is on disk.
 */
import { HEADER } from '../core/command-message.js';
import { KeyedSerial } from '../core/keyed-serial.js';
import {
  FEDERATION_ACK_TYPE,
  FEDERATION_SCHEMA_VERSION,
  type FederationAckPayload,
} from '../core/federation-message.js';
import { type InboundVerdict, judgeInboundEvent } from '../core/federation-inbound.js';
import {
  ackPayloadBytes,
  buildFederationAckRow,
  type ReceivedEvents,
  type ReceivedState,
} from '../core/federation-receipt.js';
import {
  type DsseSigner,
  type FederationReason,
  type SignatureVerifier,
  signEnvelope,
  type TrustedKey,
} from '../core/federation-trust.js';
import {
  type AgentAnswer,
  classifyAgentAnswer,
  type InboxDelivery,
  type InboxSource,
  retryDelayMs,
} from '../core/inbox.js';
import type { NewOutboxRow } from '../core/intent.js';
import type { Clock, Outbox } from '../core/ports.js';
import { childTraceparent } from '../core/trace-context.js';
import type { Logger } from '../observability/logger.js';
import type { FederationMetrics } from './metrics.js';
import { type AckFields, decideBatch, type Outcome } from './receive-decisions.js';

/** A partner we accept events from, and where they come from. */
export interface ReceivePartner {
  name: string;
  keys: readonly TrustedKey[];
  threshold: number;
  /** The durable consumer of its events subject. */
  source: InboxSource;
  /** Where our receipts to it go (our acks subject). */
  acksSubject: string;
}

/** What the agent is pushed for one event (`POST federation.pushUrl`). */
export interface FederationDelivery {
  eventId: string;
  from: string;
  type: string;
  payload: unknown;
  createdAt: string;
  /** Key IDs whose signatures held. */
  signers: string[];
  streamSeq: number;
}

/** Hands an event to the agent (the inbox's HTTP pusher). */
export interface FederationPusher {
  /** POSTs `event`; never throws (an unreachable agent or a timeout is an answer). */
  push(event: FederationDelivery, headers: Readonly<Record<string, string>>, signal: AbortSignal): Promise<AgentAnswer>;
}

/** Delivery settings (the inbox's: config section `inbox`). */
export interface ReceiveSettings {
  ackWaitMs: number;
  maxDeliver: number;
  /** Deliveries of one partner in flight at once (`federation.maxAckPending`). */
  maxAckPending: number;
  /** Pushes to the agent at once, per partner (`inbox.maxAckPending`); default `maxAckPending`. */
  maxPushes?: number;
  backoffMs: readonly number[];
  processingTimeoutMs: number;
}

/** Collaborators of {@link FederationReceiver}. */
export interface FederationReceiverOptions {
  partners: readonly ReceivePartner[];
  /** Our `federation.name` (the events' `to`, the receipts' `from`). */
  us: string;
  /** This sidecar's peer ID (`Net-Sync-Origin` of receipts). */
  origin: string;
  received: ReceivedEvents;
  outbox: Outbox;
  /** Receipts are signed with these (consensus off: this sidecar's federation key). */
  signers: readonly DsseSigner[];
  verifier: SignatureVerifier;
  /** Lower-case hex SHA-256 of an event's payload (its digest); default the pure one. */
  sha256?: (bytes: Uint8Array) => string;
  pusher: FederationPusher;
  settings: ReceiveSettings;
  clock: Clock;
  logger: Logger;
  randomHex: (bytes: number) => string;
  /** Called after a receipt was stored (the committer's wake). */
  onReceipt: () => void;
  metrics?: FederationMetrics;
}

/** A judged delivery waiting for the decisions against the record. */
interface Pending {
  d: InboxDelivery;
  verdict: InboundVerdict;
  resolve: (o: Outcome) => void;
  reject: (err: unknown) => void;
}

/** Receives partners' events: verify, record, receipt, push once. */
export class FederationReceiver {
  private readonly halt = new AbortController();
  private loops: Promise<void>[] = [];
  /** Per partner, judged deliveries waiting for the next batch of decisions against the record. */
  private readonly queues = new Map<string, Pending[]>();
  /** Partners whose batches are being decided. */
  private readonly draining = new Set<string>();
  /** Settlements (delivered, dropped, dead) waiting to be written together. */
  private settles: Array<{ partner: string; eventId: string; state: ReceivedState; done: (err?: unknown) => void }> =
    [];
  private settlesScheduled = false;
  /** Pushes to the agent, one at a time per partner and event ID. */
  private readonly pushing = new KeyedSerial();
  /** Per partner, pushes under way and pushes waiting for a slot (at most `maxPushes` at once). */
  private readonly slots = new Map<string, { busy: number; waiting: Array<() => void> }>();
  private readonly counts = new Map<string, { received: number; refused: number }>();

  constructor(private readonly opts: FederationReceiverOptions) {}

  /** Starts one consume loop per partner. */
  start(): void {
    const signal = this.halt.signal;
    for (const p of this.opts.partners) {
      const loop = p.source
        .run((d) => this.onDelivery(p, d), this.opts.settings.maxAckPending, signal)
        .catch((err) => {
          if (!signal.aborted) this.opts.logger.error({ err, partner: p.name }, 'federation receiving stopped');
        });
      this.loops.push(loop);
    }
  }

  /** Stops taking deliveries (unanswered ones are redelivered after the ack wait), then releases the verifier. Safe twice. */
  async stop(): Promise<void> {
    this.halt.abort();
    await Promise.all(this.loops);
    this.loops = [];
    await this.opts.verifier.close?.();
  }

  /** Messages received since start, by partner: accepted (new events) and refused. */
  tally(partner: string): { received: number; refused: number } {
    return this.counts.get(partner) ?? { received: 0, refused: 0 };
  }

  /** Handles one delivery; exported for tests through the source's handler. */
  async onDelivery(p: ReceivePartner, d: InboxDelivery): Promise<void> {
    const keepAlive = setInterval(() => d.working(), Math.max(100, this.opts.settings.ackWaitMs / 2));
    try {
      const outcome = await this.judge(p, d);
      if (outcome.kind === 'refused') {
        d.term(outcome.reason);
        return;
      }
      if (outcome.kind === 'copy') {
        await d.ack();
        return;
      }
      await this.deliver(p, d, outcome);
    } finally {
      clearInterval(keepAlive);
    }
  }

  // Verification runs concurrently; the decisions against the record are made in batches, one
  // batch at a time per partner and in order within it, so two copies of one event never both
  // pass as new.
  private async judge(p: ReceivePartner, d: InboxDelivery): Promise<Outcome> {
    const { opts } = this;
    const msgId = d.headers[HEADER.msgId];
    const verdict = await judgeInboundEvent(d.data, {
      partner: p.name,
      us: opts.us,
      keys: p.keys,
      threshold: p.threshold,
      storedAtMs: d.publishedAtMs,
      msgId,
      verifier: opts.verifier,
      ...(opts.sha256 === undefined ? {} : { sha256: opts.sha256 }),
    });
    return new Promise<Outcome>((resolve, reject) => {
      const queue = this.queues.get(p.name) ?? [];
      this.queues.set(p.name, queue);
      queue.push({ d, verdict, resolve, reject });
      if (!this.draining.has(p.name)) void this.drain(p);
    });
  }

  // One batch at a time per partner: whatever was judged while the last batch was being written
  // is decided together, its new events recorded in one transaction and its receipts stored in one
  // append (two fsyncs a batch, not two an event).
  private async drain(p: ReceivePartner): Promise<void> {
    this.draining.add(p.name);
    try {
      // Let the deliveries judged in this event-loop turn join the first batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (let batch = this.queues.get(p.name)?.splice(0) ?? []; batch.length > 0; ) {
        try {
          const outcomes = await this.decide(p, batch);
          for (const [i, b] of batch.entries()) b.resolve(outcomes[i]!);
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
        batch = this.queues.get(p.name)?.splice(0) ?? [];
      }
    } finally {
      this.draining.delete(p.name);
      // Settlements no batch took along.
      this.scheduleSettles();
    }
  }

  // Decides a batch (receive-decisions.ts), then writes it with one fsync: the receipts are signed
  // first; then, back to back, the new events are recorded and the settlements waiting are written
  // without an fsync of their own, and the receipts appended with one. SQLite's WAL is one ordered
  // log, so the append's fsync makes the records durable with it: an `accepted` receipt is never
  // on disk without its record, and is queued only once both are.
  private async decide(p: ReceivePartner, batch: readonly Pending[]): Promise<Outcome[]> {
    const { opts } = this;
    const decided = decideBatch(
      {
        partner: p.name,
        received: opts.received,
        nowMs: opts.clock.now(),
        logger: opts.logger,
        metrics: opts.metrics,
        refused: (d, reason, detail) => this.refused(p, d, reason, detail),
        accepted: () => {
          this.tallyOf(p.name).received++;
          opts.metrics?.inbound.inc({ partner: p.name, result: 'accepted', reason: 'none' });
        },
      },
      batch,
    );
    if (decided.receipts.length > 0) {
      const rows = await Promise.all(decided.receipts.map((r) => this.receiptRow(p, r.d, r.ack)));
      const settles = this.settles.splice(0);
      try {
        opts.received.recordMany(decided.records, { durable: false });
        opts.received.settleMany(settles, { durable: false });
        await opts.outbox.append(rows);
      } catch (err) {
        for (const s of settles) s.done(err);
        throw err;
      }
      for (const s of settles) s.done();
      opts.onReceipt();
    } else {
      // Only copies: nothing new to record (a new event always has a receipt).
      opts.received.recordMany(decided.records);
    }
    for (const f of decided.after) f();
    return decided.outcomes;
  }

  private async deliver(p: ReceivePartner, d: InboxDelivery, o: Extract<Outcome, { kind: 'deliver' }>): Promise<void> {
    await this.pushing.run(`${p.name}\n${o.record.eventId}`, async () => {
      await this.slot(p.name);
      try {
        await this.pushOnce(p, d, o);
      } finally {
        this.release(p.name);
      }
    });
  }

  // A push slot of `partner`, in the order asked (FIFO).
  private slot(partner: string): Promise<void> {
    let s = this.slots.get(partner);
    if (s === undefined) {
      s = { busy: 0, waiting: [] };
      this.slots.set(partner, s);
    }
    const max = this.opts.settings.maxPushes ?? this.opts.settings.maxAckPending;
    if (s.busy < max) {
      s.busy++;
      return Promise.resolve();
    }
    const slots = s;
    return new Promise<void>((resolve) => slots.waiting.push(resolve));
  }

  private release(partner: string): void {
    const s = this.slots.get(partner);
    if (s === undefined) return;
    const next = s.waiting.shift();
    if (next === undefined) s.busy--;
    else next(); // the slot passes on
  }

  private async pushOnce(p: ReceivePartner, d: InboxDelivery, o: Extract<Outcome, { kind: 'deliver' }>): Promise<void> {
    const { opts } = this;
    const { record, event, signers } = o;
    // A redelivery may find its event settled meanwhile (pushes of one event run one at a time).
    const now = o.fresh ? record : (opts.received.get(p.name, record.eventId) ?? record);
    if (now.state !== 'accepted' || event === undefined) {
      // Settled before (delivered, dropped, out of deliveries): only the ack to NATS was missing.
      await d.ack();
      return;
    }
    const abort = new AbortController();
    const limit = setTimeout(() => abort.abort(), opts.settings.processingTimeoutMs);
    let answer: AgentAnswer;
    try {
      const headers: Record<string, string> = { [HEADER.correlationId]: event.eventId };
      const tp = d.headers[HEADER.traceparent];
      if (tp !== undefined) headers[HEADER.traceparent] = tp;
      answer = await opts.pusher.push(
        {
          eventId: event.eventId,
          from: event.from,
          type: event.type,
          payload: event.payload,
          createdAt: event.createdAt,
          signers,
          streamSeq: d.streamSeq,
        },
        headers,
        abort.signal,
      );
    } finally {
      clearTimeout(limit);
    }
    const { verdict, reason } = classifyAgentAnswer(answer);
    const log = { partner: p.name, eventId: event.eventId, streamSeq: d.streamSeq, reason };
    if (verdict === 'ack') {
      await this.settle(p.name, event.eventId, 'delivered');
      await d.ack();
      opts.metrics?.deliveries.inc({ partner: p.name, result: 'delivered' });
    } else if (verdict === 'retry' && d.deliveryCount < opts.settings.maxDeliver) {
      d.nak(retryDelayMs(d.deliveryCount, opts.settings.backoffMs));
      opts.metrics?.deliveries.inc({ partner: p.name, result: 'retry' });
    } else if (verdict === 'retry') {
      await this.settle(p.name, event.eventId, 'dead');
      d.term(reason);
      opts.metrics?.deliveries.inc({ partner: p.name, result: 'dead' });
      opts.logger.error({ ...log, maxDeliver: opts.settings.maxDeliver }, 'federation event out of deliveries');
    } else {
      await this.settle(p.name, event.eventId, 'dropped');
      d.term(reason);
      opts.metrics?.deliveries.inc({ partner: p.name, result: 'dropped' });
      opts.logger.warn(log, 'federation event dropped by the agent');
    }
  }

  // Signs the receipt and builds its outbox row (the same message gives the same row ID, so one receipt).
  private async receiptRow(p: ReceivePartner, d: InboxDelivery, a: AckFields): Promise<NewOutboxRow> {
    const { opts } = this;
    const now = opts.clock.now();
    const ack: FederationAckPayload = {
      schemaVersion: FEDERATION_SCHEMA_VERSION,
      eventId: a.eventId,
      msgId: a.msgId,
      digest: a.digest,
      status: a.status,
      ...(a.reason === undefined ? {} : { reason: a.reason }),
      from: opts.us,
      to: p.name,
      receivedAt: new Date(now).toISOString(),
    };
    return buildFederationAckRow({
      ack,
      envelope: await signEnvelope(FEDERATION_ACK_TYPE, ackPayloadBytes(ack), opts.signers),
      subject: p.acksSubject,
      origin: opts.origin,
      traceparent: childTraceparent(d.headers[HEADER.traceparent], opts.randomHex),
      createdAtMs: now,
    });
  }

  // Durable before the ack to NATS. While a partner's batches are being written, settlements ride
  // along with the next batch's fsync; otherwise those of one event-loop turn share one transaction.
  private settle(partner: string, eventId: string, state: ReceivedState): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.settles.push({ partner, eventId, state, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.scheduleSettles();
    });
  }

  private scheduleSettles(): void {
    if (this.settlesScheduled || this.settles.length === 0 || this.draining.size > 0) return;
    this.settlesScheduled = true;
    setImmediate(() => {
      this.settlesScheduled = false;
      if (this.draining.size === 0) this.flushSettles();
    });
  }

  private flushSettles(): void {
    const batch = this.settles.splice(0);
    if (batch.length === 0) return;
    try {
      this.opts.received.settleMany(batch);
    } catch (err) {
      for (const b of batch) b.done(err);
      return;
    }
    for (const b of batch) b.done();
  }

  private refused(p: ReceivePartner, d: InboxDelivery, reason: FederationReason, detail?: string): void {
    this.tallyOf(p.name).refused++;
    this.opts.metrics?.inbound.inc({ partner: p.name, result: 'refused', reason });
    this.opts.logger.warn(
      { partner: p.name, reason, detail, streamSeq: d.streamSeq, msgId: d.headers[HEADER.msgId] },
      'federation event refused',
    );
  }

  private tallyOf(partner: string): { received: number; refused: number } {
    const known = this.counts.get(partner);
    if (known !== undefined) return known;
    const t = { received: 0, refused: 0 };
    this.counts.set(partner, t);
    return t;
  }
}
