/**
 * The receiver's decisions against its record for one batch of judged deliveries from one
 * partner (docs/federation.md, Receiving): new event, redelivery, byte copy, equivocation or
 * refusal, in order, with events new in the batch counting as recorded for the ones after them.
 * Nothing is written here: the caller records the new events, then stores the receipts, then
 * runs `after`.
 */
import { HEADER } from '../core/command-message.js';
import type { InboundVerdict } from '../core/federation-inbound.js';
import { eventOfEnvelope, type FederationAckPayload, type FederationEventPayload } from '../core/federation-message.js';
import { peekEventId, type ReceivedEvent, type ReceivedEvents, receivedMsgName } from '../core/federation-receipt.js';
import type { FederationReason } from '../core/federation-trust.js';
import type { InboxDelivery } from '../core/inbox.js';
import type { Logger } from '../observability/logger.js';
import type { FederationMetrics } from './metrics.js';

/** The fields of a receipt that depend on the message. */
export type AckFields = Pick<FederationAckPayload, 'eventId' | 'msgId' | 'digest' | 'status' | 'reason'>;

/** How a message is handled once judged and recorded. */
export type Outcome =
  | { kind: 'refused'; reason: FederationReason }
  | { kind: 'copy' }
  | {
      kind: 'deliver';
      record: ReceivedEvent;
      event: FederationEventPayload | undefined;
      signers: string[];
      /** Recorded by this batch: nothing can have settled it yet (no need to read the record again). */
      fresh: boolean;
    };

/** What one batch decided: an outcome per delivery, and what to write for them. */
export interface BatchDecisions {
  outcomes: Outcome[];
  /** New events, to record (durably) before any receipt is stored. */
  records: ReceivedEvent[];
  /** Receipts to sign and store, once the records are written. */
  receipts: Array<{ d: InboxDelivery; ack: AckFields }>;
  /** Counts and logs, once the receipts are stored. */
  after: Array<() => void>;
}

/** What the decisions read and report to. */
export interface DecisionContext {
  partner: string;
  received: ReceivedEvents;
  nowMs: number;
  logger: Logger;
  metrics?: FederationMetrics | undefined;
  /** Counts and logs one refusal (run after the receipts are stored). */
  refused: (d: InboxDelivery, reason: FederationReason, detail?: string) => void;
  /** Counts one accepted event (run after the receipts are stored). */
  accepted: () => void;
}

/** Decides a batch, in order. */
export function decideBatch(
  ctx: DecisionContext,
  batch: ReadonlyArray<{ d: InboxDelivery; verdict: InboundVerdict }>,
): BatchDecisions {
  const byId = new Map<string, ReceivedEvent>();
  const byDigest = new Map<string, ReceivedEvent>();
  const out: BatchDecisions = { outcomes: [], records: [], receipts: [], after: [] };
  for (const { d, verdict } of batch) {
    const name = receivedMsgName(d.headers[HEADER.msgId], d.stream, d.streamSeq);
    if (!verdict.accepted) {
      // A byte copy of an event accepted before (under another message ID) is absorbed, not
      // refused. Only an envelope can be one: a malformed body's digest is of the whole body.
      const known =
        verdict.reason === 'malformed'
          ? undefined
          : (byDigest.get(verdict.digest) ?? ctx.received.byDigest(ctx.partner, verdict.digest));
      if (known !== undefined) {
        out.outcomes.push(again(ctx, d, known, undefined, [], out));
        continue;
      }
      out.receipts.push({
        d,
        ack: {
          eventId: peekEventId(d.data) ?? name,
          msgId: name,
          digest: verdict.digest,
          status: 'rejected',
          reason: verdict.reason,
        },
      });
      out.after.push(() => ctx.refused(d, verdict.reason, verdict.detail));
      out.outcomes.push({ kind: 'refused', reason: verdict.reason });
      continue;
    }
    const { event, digest } = verdict;
    const known = byId.get(event.eventId) ?? ctx.received.get(ctx.partner, event.eventId);
    if (known !== undefined && known.digest !== digest) {
      out.receipts.push({
        d,
        ack: { eventId: event.eventId, msgId: name, digest, status: 'rejected', reason: 'equivocation' },
      });
      out.after.push(() => ctx.refused(d, 'equivocation'));
      out.outcomes.push({ kind: 'refused', reason: 'equivocation' });
      continue;
    }
    if (known !== undefined) {
      out.outcomes.push(again(ctx, d, known, event, verdict.signers, out));
      continue;
    }
    const record: ReceivedEvent = {
      partner: ctx.partner,
      eventId: event.eventId,
      digest,
      msgId: name,
      stream: d.stream,
      streamSeq: d.streamSeq,
      state: 'accepted',
      receivedAtMs: ctx.nowMs,
    };
    out.records.push(record);
    byId.set(event.eventId, record);
    byDigest.set(digest, record);
    out.receipts.push({ d, ack: { eventId: event.eventId, msgId: name, digest, status: 'accepted' } });
    out.after.push(ctx.accepted);
    out.outcomes.push({ kind: 'deliver', record, event, signers: verdict.signers, fresh: true });
  }
  return out;
}

// A message whose event is recorded: the same stored message again (a redelivery) resumes where
// it stopped, its receipt queued again (the same row); any other copy is absorbed.
function again(
  ctx: DecisionContext,
  d: InboxDelivery,
  known: ReceivedEvent,
  event: FederationEventPayload | undefined,
  signers: string[],
  out: BatchDecisions,
): Outcome {
  if (known.stream !== d.stream || known.streamSeq !== d.streamSeq) {
    ctx.metrics?.inbound.inc({ partner: ctx.partner, result: 'duplicate', reason: 'copy' });
    ctx.logger.info(
      { partner: ctx.partner, eventId: known.eventId, streamSeq: d.streamSeq, first: known.streamSeq },
      'federation event copy absorbed',
    );
    return { kind: 'copy' };
  }
  out.receipts.push({
    d,
    ack: { eventId: known.eventId, msgId: known.msgId, digest: known.digest, status: 'accepted' },
  });
  ctx.metrics?.inbound.inc({ partner: ctx.partner, result: 'duplicate', reason: 'redelivery' });
  // The bytes were accepted when recorded; read the event again even if a key has retired since.
  return { kind: 'deliver', record: known, event: event ?? eventOfEnvelope(d.data), signers, fresh: false };
}
