/**
 * In-memory fakes of federation's ledgers (`ReceivedEvents`, `AppliedAcks`) for unit tests.
 * `journal`, when given, receives `record:<eventId>` and `settle:<eventId>:<state>`.
 */
import type {
  AppliedAck,
  AppliedAcks,
  ReceivedEvent,
  ReceivedEvents,
  ReceivedState,
} from '../../src/core/federation-receipt.js';

export class MemoryReceivedEvents implements ReceivedEvents {
  readonly rows = new Map<string, ReceivedEvent>();

  constructor(private readonly journal?: string[]) {}

  get(partner: string, eventId: string): ReceivedEvent | undefined {
    const r = this.rows.get(`${partner}\n${eventId}`);
    return r === undefined ? undefined : { ...r };
  }

  byDigest(partner: string, digest: string): ReceivedEvent | undefined {
    for (const r of this.rows.values()) if (r.partner === partner && r.digest === digest) return { ...r };
    return undefined;
  }

  record(e: ReceivedEvent): void {
    const key = `${e.partner}\n${e.eventId}`;
    if (this.rows.has(key)) return;
    this.rows.set(key, { ...e });
    this.journal?.push(`record:${e.eventId}`);
  }

  recordMany(events: readonly ReceivedEvent[], _opts?: { durable?: boolean }): void {
    for (const e of events) this.record(e);
  }

  settleMany(
    items: ReadonlyArray<{ partner: string; eventId: string; state: ReceivedState }>,
    _opts?: { durable?: boolean },
  ): void {
    for (const i of items) this.settle(i.partner, i.eventId, i.state);
  }

  settle(partner: string, eventId: string, state: ReceivedState): void {
    const r = this.rows.get(`${partner}\n${eventId}`);
    if (r !== undefined) r.state = state;
    this.journal?.push(`settle:${eventId}:${state}`);
  }

  countByPartner(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.rows.values()) m.set(r.partner, (m.get(r.partner) ?? 0) + 1);
    return m;
  }
}

export class MemoryAppliedAcks implements AppliedAcks {
  readonly rows = new Map<string, AppliedAck>();

  get(eventId: string): AppliedAck | undefined {
    return this.rows.get(eventId);
  }

  appliedAmong(eventIds: readonly string[]): Set<string> {
    return new Set(eventIds.filter((id) => this.rows.has(id)));
  }

  apply(a: AppliedAck): boolean {
    if (this.rows.has(a.eventId)) return false;
    this.rows.set(a.eventId, { ...a });
    return true;
  }

  applyMany(list: readonly AppliedAck[]): boolean[] {
    return list.map((a) => this.apply(a));
  }

  list(partner?: string): AppliedAck[] {
    return [...this.rows.values()].filter((a) => partner === undefined || a.partner === partner);
  }
}
