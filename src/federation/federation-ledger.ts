/**
 * The ledger per partner (docs/federation.md, Ledger and status): what we sent and what came
 * back, what we received and refused, and the gaps, the committed events without a valid receipt
 * after `federation.ackTimeoutMs`, which NATS reports as "lag 0". Receipts applied and events
 * received are durable (their ledgers); the committed events still waiting for a receipt are
 * read from the outbox at start and followed as the committer commits and receipts apply.
 */
import { HEADER } from '../core/command-message.js';
import { FEDERATION_KIND, PARTNER_HEADER } from '../core/federation-message.js';
import type { AppliedAcks, FederationStatus, ReceivedEvents } from '../core/federation-receipt.js';
import type { Clock, Outbox } from '../core/ports.js';

/** Collaborators of {@link FederationLedger}. */
export interface FederationLedgerOptions {
  partners: ReadonlyArray<{ name: string; send: boolean; receive: boolean }>;
  outbox: Outbox;
  acks: AppliedAcks | null;
  received: ReceivedEvents | null;
  ackTimeoutMs: number;
  clock: Clock;
  /** Receipts from a partner not applied since start. */
  acksRefused: (partner: string) => number;
  /** Messages from a partner refused since start. */
  refused: (partner: string) => number;
}

interface Unacked {
  partner: string;
  streamSeq: number;
  committedAtMs: number;
}

/** Follows our events until their receipts, and answers for every partner. */
export class FederationLedger {
  /** Committed events without a receipt, in commit order. */
  private readonly unacked = new Map<string, Unacked>();

  constructor(private readonly opts: FederationLedgerOptions) {
    this.reload();
  }

  // Paged, as the intake's reload: the committed rows may be many, and mostly commands.
  private reload(): void {
    const { outbox, acks } = this.opts;
    let page = outbox.listByState(['committed'], 10_000);
    while (page.length > 0) {
      for (const row of page)
        if (row.headers[HEADER.kind] === FEDERATION_KIND.event && acks?.get(row.correlationId) === undefined)
          this.unacked.set(row.correlationId, {
            partner: row.headers[PARTNER_HEADER] ?? '',
            streamSeq: row.streamSeq ?? 0,
            committedAtMs: row.committedAtMs ?? row.createdAtMs,
          });
      page = outbox.listByState(['committed'], 10_000, page[page.length - 1]!.seq);
    }
  }

  /**
   * The committer committed these rows: the events among them now wait for receipts. A row that
   * comes with its `headers` (the committer's own announcements) is told apart without a read, and
   * the receipts already applied (one came before the commit was announced) are read once for all.
   */
  committed(
    rows: ReadonlyArray<{ correlationId: string; seq: number; headers?: Readonly<Record<string, string>> }>,
  ): void {
    const now = this.opts.clock.now();
    const events: Array<{ id: string; seq: number; partner: string; at: number }> = [];
    for (const r of rows) {
      if (this.unacked.has(r.correlationId)) continue;
      const row = r.headers === undefined ? this.opts.outbox.get(r.correlationId) : undefined;
      const headers = r.headers ?? row?.headers;
      if (headers === undefined || headers[HEADER.kind] !== FEDERATION_KIND.event) continue;
      const at = row?.committedAtMs ?? now;
      events.push({ id: r.correlationId, seq: r.seq, partner: headers[PARTNER_HEADER] ?? '', at });
    }
    if (events.length === 0) return;
    const acked = this.opts.acks?.appliedAmong(events.map((e) => e.id));
    for (const e of events)
      if (acked?.has(e.id) !== true)
        this.unacked.set(e.id, { partner: e.partner, streamSeq: e.seq, committedAtMs: e.at });
  }

  /** A receipt was applied to `eventId`. */
  acked(eventId: string): void {
    this.unacked.delete(eventId);
  }

  /** Committed events of `partner` without a receipt, and how old the oldest is. */
  waiting(partner: string): { unacked: number; oldestAgeMs: number } {
    const now = this.opts.clock.now();
    let unacked = 0;
    let oldest = now;
    for (const u of this.unacked.values()) {
      if (u.partner !== partner) continue;
      unacked++;
      oldest = Math.min(oldest, u.committedAtMs);
    }
    return { unacked, oldestAgeMs: Math.max(0, now - oldest) };
  }

  /** Every partner's figures, the gaps and the rejected events; `partner` narrows all three to one. */
  status(partner?: string): FederationStatus {
    const { opts } = this;
    const now = opts.clock.now();
    const received = opts.received?.countByPartner() ?? new Map<string, number>();
    const out: FederationStatus = { partners: [], gaps: [], rejected: [] };
    for (const p of opts.partners) {
      if (partner !== undefined && p.name !== partner) continue;
      const applied = opts.acks?.list(p.name) ?? [];
      let acked = 0;
      let lastAckAtMs: number | undefined;
      for (const a of applied) {
        if (a.status === 'accepted') acked++;
        else out.rejected.push({ partner: p.name, eventId: a.eventId, reason: a.reason ?? 'unknown' });
        lastAckAtMs = Math.max(lastAckAtMs ?? 0, a.appliedAtMs);
      }
      const waiting = this.waiting(p.name);
      out.partners.push({
        name: p.name,
        send: p.send,
        receive: p.receive,
        sent: applied.length + waiting.unacked,
        acked,
        rejected: applied.length - acked,
        unacked: waiting.unacked,
        oldestUnackedAgeMs: waiting.oldestAgeMs,
        ...(lastAckAtMs === undefined ? {} : { lastAckAt: new Date(lastAckAtMs).toISOString() }),
        acksRefused: opts.acksRefused(p.name),
        received: received.get(p.name) ?? 0,
        refused: opts.refused(p.name),
      });
    }
    for (const [eventId, u] of this.unacked) {
      if (partner !== undefined && u.partner !== partner) continue;
      const ageMs = now - u.committedAtMs;
      if (ageMs >= opts.ackTimeoutMs) out.gaps.push({ partner: u.partner, eventId, streamSeq: u.streamSeq, ageMs });
    }
    return out;
  }
}
