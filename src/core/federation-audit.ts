/**
 * The audit by replay (`net-sync federation verify`, docs/federation.md): every message on our
 * events subjects judged against our own signing keys (`federation.signers`) and the quorum,
 * every receipt on a partner's acks subject judged against that partner's keys, and the two
 * paired. Feed all events first, then the receipts; then read the report. Pure, apart from the
 * verifier port; the caller reads the stream.
 */
import { judgeInboundEvent } from './federation-inbound.js';
import { type FederationGap, judgeAck } from './federation-receipt.js';
import type { FederationReason, SignatureVerifier, TrustedKey } from './federation-trust.js';

/** One stored message as the audit reads it. */
export interface AuditMessage {
  stream: string;
  seq: number;
  /** `Nats-Msg-Id`, undefined when it has none. */
  msgId: string | undefined;
  data: Uint8Array;
  /** When the stream stored it (ms): key windows are judged at this time. */
  timeMs: number;
}

/** A partner whose receipts are judged. */
export interface AuditPartner {
  name: string;
  keys: readonly TrustedKey[];
  threshold: number;
}

/** A message that failed the audit. */
export interface BadMessage {
  /** Its `Nats-Msg-Id`, null when it has none. */
  msgId: string | null;
  streamSeq: number;
  reason: BadEventReason | BadAckReason;
  /** The partner whose subject it was on. */
  partner: string;
}

/** Why an event message is bad: the receiver's refusal reasons, read from our side. */
export type BadEventReason = FederationReason;
/** Why a receipt is bad: invalid (a refusal reason), or it names no message of ours, or another digest, or again. */
export type BadAckReason = FederationReason | 'unknown-event' | 'digest-mismatch' | 'duplicate';

/** A verified event stored more than once (a byte copy under a new `Nats-Msg-Id`, or past the duplicate window). */
export interface DuplicateEvent {
  eventId: string;
  partner: string;
  /** Every copy's `Nats-Msg-Id` (null when it has none), the first stored first. */
  msgIds: Array<string | null>;
  streamSeqs: number[];
}

/** What `federation verify` reports. */
export interface FederationAuditReport {
  /** Messages read on our events subjects. */
  events: number;
  /** Distinct events that verified. */
  verified: number;
  /** Verified events with a valid `accepted` receipt. */
  acked: number;
  /** Verified events with a valid `rejected` receipt. */
  rejected: number;
  /** Verified events older than the ack timeout without a valid receipt. */
  gaps: FederationGap[];
  badEvents: BadMessage[];
  badAcks: BadMessage[];
  duplicates: DuplicateEvent[];
}

/** What the audit needs to know. */
export interface FederationAuditOptions {
  /** Our `federation.name`: the events' `from`, the receipts' `to`. */
  us: string;
  /** Our published signing keys (`federation.signers`). */
  signers: readonly TrustedKey[];
  /** Valid signatures of ours needed on an event: the consensus quorum, 1 with consensus off. */
  threshold: number;
  verifier: SignatureVerifier;
  ackTimeoutMs: number;
}

interface EventRecord {
  partner: string;
  msgId: string | undefined;
  seq: number;
  timeMs: number;
  digest: string;
  /** Set when the message verified (the first message of its event). */
  eventId?: string;
  receipt?: 'accepted' | 'rejected';
}

const key = (partner: string, value: string): string => `${partner}\n${value}`;

/** Collects events and receipts; {@link report} pairs them. */
export class FederationAudit {
  private eventCount = 0;
  private readonly byMsgId = new Map<string, EventRecord[]>();
  /** Messages without a `Nats-Msg-Id`, by partner and digest (a receipt names them `<stream>:<seq>` of its own). */
  private readonly unnamed = new Map<string, EventRecord>();
  private readonly verified = new Map<string, EventRecord>();
  private readonly byDigest = new Map<string, EventRecord>();
  private readonly copies = new Map<EventRecord, DuplicateEvent>();
  private readonly badEvents: BadMessage[] = [];
  private readonly badAcks: BadMessage[] = [];
  private readonly unknownAcks: Array<{ bad: BadMessage; eventMsgId: string }> = [];

  constructor(private readonly opts: FederationAuditOptions) {}

  /** Judges one message stored on our events subject to `partner`. Every event before any receipt. */
  async addEvent(partner: string, m: AuditMessage): Promise<void> {
    this.eventCount++;
    const { opts } = this;
    // The receiver's rule with the roles turned round: from us, to the partner, signed by our keys.
    const verdict = await judgeInboundEvent(m.data, {
      partner: opts.us,
      us: partner,
      keys: opts.signers,
      threshold: opts.threshold,
      storedAtMs: m.timeMs,
      msgId: m.msgId,
      verifier: opts.verifier,
    });
    const record: EventRecord = { partner, msgId: m.msgId, seq: m.seq, timeMs: m.timeMs, digest: verdict.digest };
    this.index(record);
    const signedByUs = verdict.accepted || verdict.reason === 'id-mismatch';
    const original = signedByUs ? this.byDigest.get(key(partner, verdict.digest)) : undefined;
    if (original !== undefined) {
      this.copy(original, record);
      return;
    }
    if (!verdict.accepted) {
      this.bad(this.badEvents, m, verdict.reason, partner);
      return;
    }
    const id = key(partner, verdict.event.eventId);
    if (this.verified.has(id)) {
      this.bad(this.badEvents, m, 'equivocation', partner);
      return;
    }
    record.eventId = verdict.event.eventId;
    this.verified.set(id, record);
    this.byDigest.set(key(partner, verdict.digest), record);
  }

  /** Judges one receipt stored on `partner`'s acks subject and pairs it with the message it names. */
  async addAck(partner: AuditPartner, m: AuditMessage): Promise<void> {
    const verdict = await judgeAck(m.data, {
      partner: partner.name,
      us: this.opts.us,
      keys: partner.keys,
      threshold: partner.threshold,
      storedAtMs: m.timeMs,
      verifier: this.opts.verifier,
    });
    if (!verdict.ok) {
      this.bad(this.badAcks, m, verdict.reason, partner.name);
      return;
    }
    const { ack } = verdict;
    const named = (this.byMsgId.get(ack.msgId) ?? []).filter((r) => r.partner === partner.name);
    const target =
      named.find((r) => r.digest === ack.digest) ??
      (named.length === 0 ? this.unnamed.get(key(partner.name, ack.digest)) : undefined);
    let reason: BadAckReason | undefined;
    if (target === undefined) reason = named.length === 0 ? 'unknown-event' : 'digest-mismatch';
    else if (target.eventId !== undefined && target.eventId !== ack.eventId) reason = 'unknown-event';
    else if (target.receipt !== undefined) reason = 'duplicate';
    else target.receipt = ack.status;
    if (reason === undefined) return;
    const bad = this.bad(this.badAcks, m, reason, partner.name);
    if (reason === 'unknown-event' && target === undefined) this.unknownAcks.push({ bad, eventMsgId: ack.msgId });
  }

  /**
   * `Nats-Msg-Id`s named by valid receipts from `partner` that matched no message read (perhaps
   * stored before the audit's window).
   */
  unknownEventMsgIds(partner: string): Set<string> {
    return new Set(this.unknownAcks.filter((u) => u.bad.partner === partner).map((u) => u.eventMsgId));
  }

  /**
   * The report at `nowMs`. Receipts naming a message found before the audit's window (`earlier`:
   * by partner, its `Nats-Msg-Id`s) are not listed as bad: that event was not read, so the
   * receipt cannot be paired.
   */
  report(nowMs: number, earlier: ReadonlyMap<string, ReadonlySet<string>> = new Map()): FederationAuditReport {
    const excused = new Set(
      this.unknownAcks.filter((u) => earlier.get(u.bad.partner)?.has(u.eventMsgId) === true).map((u) => u.bad),
    );
    let acked = 0;
    let rejected = 0;
    const gaps: FederationGap[] = [];
    for (const r of this.verified.values()) {
      if (r.receipt === 'accepted') acked++;
      else if (r.receipt === 'rejected') rejected++;
      else if (nowMs - r.timeMs >= this.opts.ackTimeoutMs)
        gaps.push({ partner: r.partner, eventId: r.eventId!, streamSeq: r.seq, ageMs: nowMs - r.timeMs });
    }
    return {
      events: this.eventCount,
      verified: this.verified.size,
      acked,
      rejected,
      gaps,
      badEvents: [...this.badEvents],
      badAcks: this.badAcks.filter((b) => !excused.has(b)),
      duplicates: [...this.copies.values()],
    };
  }

  private index(r: EventRecord): void {
    if (r.msgId === undefined) {
      const k = key(r.partner, r.digest);
      if (!this.unnamed.has(k)) this.unnamed.set(k, r);
      return;
    }
    const list = this.byMsgId.get(r.msgId);
    if (list === undefined) this.byMsgId.set(r.msgId, [r]);
    else list.push(r);
  }

  private copy(original: EventRecord, r: EventRecord): void {
    let d = this.copies.get(original);
    if (d === undefined) {
      d = {
        eventId: original.eventId!,
        partner: original.partner,
        msgIds: [original.msgId ?? null],
        streamSeqs: [original.seq],
      };
      this.copies.set(original, d);
    }
    d.msgIds.push(r.msgId ?? null);
    d.streamSeqs.push(r.seq);
  }

  private bad(list: BadMessage[], m: AuditMessage, reason: BadMessage['reason'], partner: string): BadMessage {
    const b: BadMessage = { msgId: m.msgId ?? null, streamSeq: m.seq, reason, partner };
    list.push(b);
    return b;
  }
}
