/**
 * Accepting an agent's event for a partner: validate, assign the event ID, sign the DSSE
 * envelope, make it durable, wake the committer. "Accepted" is only returned once the row is on
 * disk; the committer then publishes it exactly once, as it does commands.
 */
import { HEADER } from '../core/command-message.js';
import {
  assertSameEvent,
  buildFederationEventRow,
  eventPayloadBytes,
  FEDERATION_EVENT_TYPE,
  FEDERATION_KIND,
  FEDERATION_SCHEMA_VERSION,
  type FederationEventView,
  keyedEventId,
  PARTNER_HEADER,
  parseFederationEventInput,
} from '../core/federation-message.js';
import { type DsseSigner, signEnvelope } from '../core/federation-trust.js';
import type { IntentState } from '../core/intent.js';
import type { Clock, Outbox } from '../core/ports.js';
import { childTraceparent } from '../core/trace-context.js';
import type { CohortEvent } from '../core/federation-cohort.js';
import type { FederationMetrics } from './metrics.js';

/** A partner we may send to, and the subject its events go to. */
export interface SendPartner {
  name: string;
  eventsSubject: string;
}

/** Collaborators of the intake. */
export interface FederationIntakeOptions {
  outbox: Outbox;
  clock: Clock;
  /** Our `federation.name` (the events' `from`). */
  name: string;
  /** This sidecar's peer ID (the events' `origin`, `Net-Sync-Origin`). */
  origin: string;
  /** Partners with `send: true`. */
  partners: readonly SendPartner[];
  /** Largest agent payload accepted (JSON bytes). */
  maxPayloadBytes: number;
  /** The signers of an event: consensus off, this sidecar's federation key alone. */
  signers: readonly DsseSigner[];
  /** New ULID for `nowMs`. */
  newId: (nowMs: number) => string;
  randomHex: (bytes: number) => string;
  /** Called after each durable accept (the committer's wake). */
  onAccepted: (eventId: string) => void;
  metrics?: FederationMetrics;
  /**
   * Consensus on: the event goes to the cohort instead (the consensus driver's `acceptEvent`),
   * which signs it with each endorser's federation key and commits it once it holds the quorum's
   * signatures. `signers` then sign nothing here.
   */
  cohort?: (event: CohortEvent) => Promise<IntentState>;
}

export type { CohortEvent };

const decoder = new TextDecoder();

// Open states of an outgoing event: it is counted `committed` when it leaves them.
const OPEN: readonly IntentState[] = ['pending-commit', 'in-flight'];

/** Validates, signs and durably accepts events for partners. */
export class FederationIntake {
  private readonly subjects: ReadonlyMap<string, string>;
  private readonly sendPartners: ReadonlySet<string>;
  /** Events accepted and not yet committed, with their partner (reloaded from the outbox at start). */
  private readonly open = new Map<string, string>();

  constructor(private readonly opts: FederationIntakeOptions) {
    this.subjects = new Map(opts.partners.map((p) => [p.name, p.eventsSubject]));
    this.sendPartners = new Set(this.subjects.keys());
    this.reloadOpen();
  }

  // Paged: after a long outage the open rows may be many, and mostly commands.
  private reloadOpen(): void {
    let page = this.opts.outbox.listByState(OPEN, 10_000);
    while (page.length > 0) {
      for (const row of page)
        if (row.headers[HEADER.kind] === FEDERATION_KIND.event)
          this.open.set(row.correlationId, row.headers[PARTNER_HEADER] ?? '');
      page = this.opts.outbox.listByState(OPEN, 10_000, page[page.length - 1]!.seq);
    }
  }

  /**
   * The committer committed these rows: counts the events among them. A row that comes with its
   * `headers` is told apart without a read.
   */
  committed(rows: Iterable<{ correlationId: string; headers?: Readonly<Record<string, string>> }>): void {
    for (const { correlationId: id, headers } of rows) {
      if (headers !== undefined && headers[HEADER.kind] !== FEDERATION_KIND.event) continue;
      // With consensus on, this node's committer also publishes events other members accepted.
      const partner =
        this.open.get(id) ??
        (this.opts.cohort === undefined
          ? undefined
          : headers === undefined
            ? this.partnerOf(id)
            : (headers[PARTNER_HEADER] ?? ''));
      if (partner === undefined) continue;
      this.open.delete(id);
      this.opts.metrics?.events.inc({ partner, result: 'committed' });
    }
  }

  /**
   * Throws INPUT_INVALID naming the field, IDEMPOTENCY_CONFLICT when `idempotencyKey` names
   * another event, or OUTBOX_IO when the row could not be stored.
   */
  async accept(
    body: unknown,
    traceparent?: string,
    idempotencyKey?: string,
  ): Promise<{ eventId: string; state: IntentState }> {
    const { opts } = this;
    const input = parseFederationEventInput(body, {
      sendPartners: this.sendPartners,
      maxPayloadBytes: opts.maxPayloadBytes,
    });
    const now = opts.clock.now();
    const eventId = idempotencyKey === undefined ? opts.newId(now) : keyedEventId(idempotencyKey);
    const known = idempotencyKey === undefined ? undefined : opts.outbox.get(eventId);
    if (known !== undefined) {
      assertSameEvent(known.body, input);
      return { eventId, state: known.state };
    }
    const payload = eventPayloadBytes({
      schemaVersion: FEDERATION_SCHEMA_VERSION,
      eventId,
      from: opts.name,
      to: input.partner,
      type: input.type,
      payload: input.payload,
      createdAt: new Date(now).toISOString(),
      origin: opts.origin,
    });
    const subject = this.subjects.get(input.partner)!;
    const tp = childTraceparent(traceparent, opts.randomHex);
    if (opts.cohort !== undefined) {
      const text = decoder.decode(payload);
      const state = await opts.cohort({
        eventId,
        partner: input.partner,
        subject,
        text,
        traceparent: tp,
        createdAtMs: now,
      });
      // A keyed event raced (here, or a member's proposal of it arrived first): it must be this one.
      const stored = idempotencyKey === undefined ? undefined : opts.outbox.get(eventId);
      if (stored !== undefined) assertSameEvent(stored.body, input);
      return { eventId, state };
    }
    const row = buildFederationEventRow({
      eventId,
      partner: input.partner,
      subject,
      envelope: await signEnvelope(FEDERATION_EVENT_TYPE, payload, opts.signers),
      origin: opts.origin,
      traceparent: tp,
      createdAtMs: now,
    });
    await opts.outbox.append([row]);
    this.open.set(eventId, input.partner);
    if (idempotencyKey !== undefined) {
      // Two requests with one key raced: the first stored wins, and the other must match it.
      const stored = opts.outbox.get(eventId);
      if (stored !== undefined) assertSameEvent(stored.body, input);
    }
    opts.onAccepted(eventId);
    return { eventId, state: row.state };
  }

  private partnerOf(id: string): string | undefined {
    const row = this.opts.outbox.get(id);
    return row?.headers[HEADER.kind] === FEDERATION_KIND.event ? (row.headers[PARTNER_HEADER] ?? '') : undefined;
  }

  /** Releases the signers (a worker thread). Safe twice. */
  async close(): Promise<void> {
    await Promise.all(this.opts.signers.map((s) => s.close?.()));
  }

  /** The event's view, or undefined when this sidecar holds no outgoing event with that ID. */
  view(eventId: string): FederationEventView | undefined {
    const row = this.opts.outbox.get(eventId);
    if (row === undefined || row.headers[HEADER.kind] !== FEDERATION_KIND.event) return undefined;
    return {
      eventId,
      partner: row.headers[PARTNER_HEADER] ?? '',
      state: row.state,
      ...(row.streamSeq === null ? {} : { streamSeq: row.streamSeq }),
    };
  }

  /** The event a key names, as {@link FederationIntake.view}. */
  viewByKey(idempotencyKey: string): FederationEventView | undefined {
    return this.view(keyedEventId(idempotencyKey));
  }
}
