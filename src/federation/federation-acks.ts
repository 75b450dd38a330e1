/**
 * Receipts read back (docs/federation.md, Receipts): for each `send` partner a durable consumer
 * reads its acks subject; each receipt is verified against that partner's keys and threshold and
 * applied only when it names an event we sent to that partner (the message we published) with
 * the same digest. An event moves `committed` → `acked` or `rejected` once; any other receipt is
 * counted by result and kept in a short list, never applied.
 */
import { HEADER } from '../core/command-message.js';
import { sha256Hex } from '../core/digest.js';
import {
  FEDERATION_KIND,
  type FederationEventView,
  PARTNER_HEADER,
  storedEventPayload,
} from '../core/federation-message.js';
import {
  type AckResult,
  type AppliedAck,
  type AppliedAcks,
  classifyAck,
  eventDigest,
  judgeAck,
  type SentEvent,
} from '../core/federation-receipt.js';
import { judgeInboundEvent } from '../core/federation-inbound.js';
import type { SignatureVerifier, TrustedKey } from '../core/federation-trust.js';
import type { InboxDelivery, InboxSource } from '../core/inbox.js';
import type { Clock, Outbox } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import type { FederationMetrics } from './metrics.js';

/** A partner we send to, whose receipts we read. */
export interface AckPartner {
  name: string;
  keys: readonly TrustedKey[];
  threshold: number;
  /** The durable consumer of its acks subject. */
  source: InboxSource;
  /** Our events subject to it (where {@link FederationAcksOptions.stored} looks events up). */
  eventsSubject?: string;
}

/** Our own stream read back, for the receipts of events a cohort member does not hold as stored. */
export interface OurStoredEvents {
  /** `federation.signers`, and the valid signatures of ours an event needs (the consensus quorum). */
  signers: readonly TrustedKey[];
  threshold: number;
  /**
   * The first message stored on `subject` at or after `sinceMs` with `Nats-Msg-Id` = `msgId`
   * (the one the cohort committed: a later one under that ID is a copy or an equivocation), or
   * undefined. Throws when the stream cannot be read.
   */
  first(subject: string, msgId: string, sinceMs: number): Promise<{ data: Uint8Array; timeMs: number } | undefined>;
}

/** A receipt that was not applied, as listed. */
export interface RefusedAck {
  partner: string;
  result: Exclude<AckResult, 'applied'>;
  /** Why it was invalid (a refusal reason), when it was. */
  reason?: string;
  msgId?: string;
  streamSeq: number;
  eventId?: string;
}

/** Collaborators of {@link FederationAcks}. */
export interface FederationAcksOptions {
  partners: readonly AckPartner[];
  /** Our `federation.name` (the receipts' `to`). */
  us: string;
  /** Where our events are (their rows, to compare digests). */
  outbox: Outbox;
  acks: AppliedAcks;
  verifier: SignatureVerifier;
  /** Lower-case hex SHA-256 of an event's payload (its digest); default the pure one. */
  sha256?: (bytes: Uint8Array) => string;
  /** Unanswered receipts at once per partner. */
  concurrency: number;
  clock: Clock;
  logger: Logger;
  metrics?: FederationMetrics;
  /** Called once a receipt was applied to `eventId` (the ledger stops waiting for it). */
  onApplied?: (eventId: string, partner: string) => void;
  /**
   * Consensus on: a member may read an event's receipt before it holds the event (its proposal or
   * endorsement still on the way). Such a receipt is redelivered after `delayMs` until delivery
   * `maxDeliver`, and only then counted `unknown-event`. Absent: counted at once.
   */
  unknownEventRetry?: { delayMs: number; maxDeliver: number };
  /**
   * Consensus on: a receipt naming an event this member holds with another digest (a keyed event
   * was posted to two members at once and the other's copy was committed) is checked against the
   * event our stream stored first under that ID, and applied when that event is ours (`threshold`
   * of `signers`, from us to the partner, ID = message ID) with the receipt's digest.
   */
  stored?: OurStoredEvents;
}

/** How far before a held event's creation its stored copy is looked for (clock skew between members), ms. */
const STORED_LOOKBACK_MS = 60_000;

const KEEP_REFUSED = 200;

/** A receipt waiting for the next batch of applies. */
interface PendingApply {
  ack: AppliedAck;
  resolve(stored: boolean): void;
  reject(err: unknown): void;
}

/** Reads, verifies and applies partners' receipts. */
export class FederationAcks {
  private readonly halt = new AbortController();
  private loops: Promise<void>[] = [];
  private readonly refusedList: RefusedAck[] = [];
  private readonly refusedCounts = new Map<string, number>();
  private pendingApplies: PendingApply[] = [];

  constructor(private readonly opts: FederationAcksOptions) {}

  start(): void {
    const signal = this.halt.signal;
    for (const p of this.opts.partners) {
      const loop = p.source
        .run((d) => this.onDelivery(p, d).then(() => undefined), this.opts.concurrency, signal)
        .catch((err) => {
          if (!signal.aborted) this.opts.logger.error({ err, partner: p.name }, 'federation receipts stopped');
        });
      this.loops.push(loop);
    }
  }

  /** Safe twice. */
  async stop(): Promise<void> {
    this.halt.abort();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** The last receipts not applied (at most 200), oldest first. */
  get refused(): readonly RefusedAck[] {
    return this.refusedList;
  }

  /** Receipts from `partner` not applied since start. */
  refusedCount(partner: string): number {
    return this.refusedCounts.get(partner) ?? 0;
  }

  /** Handles one receipt; the result it was counted under. */
  async onDelivery(p: AckPartner, d: InboxDelivery): Promise<AckResult | 'later'> {
    const result = await this.judge(p, d);
    if (result === 'later') {
      d.nak(this.opts.unknownEventRetry?.delayMs ?? 2_000);
      return result;
    }
    this.opts.metrics?.acks.inc({ partner: p.name, result });
    await d.ack();
    return result;
  }

  /** The event's view with its receipt: state `acked` or `rejected`, `ackedAt`, `ack`. */
  overlay(view: FederationEventView): FederationEventView {
    const a = this.opts.acks.get(view.eventId);
    if (a === undefined) return view;
    return {
      ...view,
      state: a.status === 'accepted' ? 'acked' : 'rejected',
      ackedAt: new Date(a.appliedAtMs).toISOString(),
      ack: { status: a.status, ...(a.reason === undefined ? {} : { reason: a.reason }), signers: a.signers },
    };
  }

  private async judge(p: AckPartner, d: InboxDelivery): Promise<AckResult | 'later'> {
    const { opts } = this;
    const msgId = d.headers[HEADER.msgId];
    const verdict = await judgeAck(d.data, {
      partner: p.name,
      us: opts.us,
      keys: p.keys,
      threshold: p.threshold,
      storedAtMs: d.publishedAtMs,
      verifier: opts.verifier,
    });
    if (!verdict.ok) {
      this.refuse({ partner: p.name, result: 'invalid', reason: verdict.reason, streamSeq: d.streamSeq, msgId });
      opts.logger.warn(
        { partner: p.name, reason: verdict.reason, detail: verdict.detail, streamSeq: d.streamSeq, msgId },
        'federation receipt invalid',
      );
      return 'invalid';
    }
    const { ack, signers } = verdict;
    const sent = this.sentEvent(ack.eventId);
    let result = classifyAck(ack, p.name, sent);
    const retry = opts.unknownEventRetry;
    if (result === 'unknown-event' && sent === undefined && retry !== undefined && d.deliveryCount < retry.maxDeliver)
      return 'later';
    // Only for an event this member holds (it was proposed in the cohort): an ID it never held may
    // be anyone's, and a message on our subject signed by keys this member still trusts (a key
    // retired in a config it has not reloaded) is not thereby an event the cohort committed.
    if (result === 'digest-mismatch' && !sent!.acked) {
      const found = await this.storedMatches(p, ack.eventId, ack.msgId, ack.digest);
      if (found === 'later') return 'later';
      if (found === 'yes') result = 'applied';
    }
    if (result === 'applied') {
      const now = opts.clock.now();
      const stored = await this.applyBatched({
        eventId: ack.eventId,
        partner: p.name,
        status: ack.status,
        ...(ack.reason === undefined ? {} : { reason: ack.reason }),
        signers,
        ackMsgId: msgId ?? `${d.stream}:${d.streamSeq}`,
        appliedAtMs: now,
      });
      if (stored) {
        opts.onApplied?.(ack.eventId, p.name);
        opts.metrics?.events.inc({ partner: p.name, result: ack.status === 'accepted' ? 'acked' : 'rejected' });
        const committedAt = opts.outbox.get(ack.eventId)?.committedAtMs;
        if (committedAt !== undefined && committedAt !== null)
          opts.metrics?.ackLatency.observe({ partner: p.name }, Math.max(0, now - committedAt) / 1_000);
        if (ack.status === 'rejected')
          opts.logger.warn({ partner: p.name, eventId: ack.eventId, reason: ack.reason }, 'federation event rejected');
        return 'applied';
      }
      result = 'duplicate';
    }
    if (result !== 'duplicate')
      opts.logger.warn({ partner: p.name, eventId: ack.eventId, result, msgId }, 'federation receipt not applied');
    this.refuse({ partner: p.name, result, streamSeq: d.streamSeq, msgId, eventId: ack.eventId });
    return result;
  }

  /**
   * Applies `ack` with the others verified in the same turn of the event loop: one durable
   * transaction (one fsync) for all of them instead of one each. Resolves once it is on disk.
   */
  private applyBatched(ack: AppliedAck): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (this.pendingApplies.push({ ack, resolve, reject }) === 1) setImmediate(() => this.flushApplies());
    });
  }

  private flushApplies(): void {
    const batch = this.pendingApplies;
    this.pendingApplies = [];
    let stored: boolean[];
    try {
      stored = this.opts.acks.applyMany(batch.map((b) => b.ack));
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    for (const [i, b] of batch.entries()) b.resolve(stored[i] === true);
  }

  // Whether our stream's first event under `eventId` is ours, to `p`, with `digest`; `later` when
  // the stream could not be read (the receipt is redelivered).
  private async storedMatches(
    p: AckPartner,
    eventId: string,
    msgId: string,
    digest: string,
  ): Promise<'yes' | 'no' | 'later'> {
    const { stored, outbox, verifier, logger, us } = this.opts;
    if (stored === undefined || p.eventsSubject === undefined || msgId !== eventId) return 'no';
    // The held copy bounds the scan.
    const held = outbox.get(eventId);
    const sinceMs = held === undefined ? 0 : Math.max(0, held.createdAtMs - STORED_LOOKBACK_MS);
    let found: { data: Uint8Array; timeMs: number } | undefined;
    try {
      found = await stored.first(p.eventsSubject, eventId, sinceMs);
    } catch (err) {
      logger.warn({ err, partner: p.name, eventId }, 'federation receipt: our stream could not be read; later');
      return 'later';
    }
    if (found === undefined) return 'no';
    // federation verify's rule for our events: the receiver's rule with the roles turned round.
    const verdict = await judgeInboundEvent(found.data, {
      partner: us,
      us: p.name,
      keys: stored.signers,
      threshold: stored.threshold,
      storedAtMs: found.timeMs,
      msgId: eventId,
      verifier,
    });
    return verdict.accepted && verdict.digest === digest ? 'yes' : 'no';
  }

  private sentEvent(eventId: string): SentEvent | undefined {
    const row = this.opts.outbox.get(eventId);
    if (row === undefined || row.headers[HEADER.kind] !== FEDERATION_KIND.event) return undefined;
    // A cohort member may hold the event still `proposed` (the receipt came before the commit gossip).
    const payload = storedEventPayload(row.body);
    return {
      eventId,
      partner: row.headers[PARTNER_HEADER] ?? '',
      digest: payload === undefined ? eventDigest(row.body) : (this.opts.sha256 ?? sha256Hex)(payload),
      acked: this.opts.acks.get(eventId) !== undefined,
    };
  }

  private refuse(r: Omit<RefusedAck, 'msgId'> & { msgId: string | undefined }): void {
    const { msgId, ...rest } = r;
    this.refusedList.push(msgId === undefined ? rest : { ...rest, msgId });
    if (this.refusedList.length > KEEP_REFUSED) this.refusedList.shift();
    this.refusedCounts.set(r.partner, (this.refusedCounts.get(r.partner) ?? 0) + 1);
  }
}
