/**
 * An in-memory `Outbox` with the same semantics as `SqliteOutbox` (guarded transitions,
 * duplicate appends ignored, telemetry cap, lease), for unit tests of the committer and
 * reconcile. Nothing is durable. `append` resolves on a microtask.
 */
import {
  INTENT_STATES,
  PRUNABLE_STATES,
  type IntentState,
  type NewOutboxRow,
  type OutboxRow,
  type RowKind,
  type StreamLocation,
} from '../../src/core/intent.js';
import type { AppendClaim, ClaimRequest, Outbox, PromoteItem, StateCounts } from '../../src/core/ports.js';

const OPEN_STATES: ReadonlySet<IntentState> = new Set(['proposed', 'pending-commit', 'in-flight']);

/** Options of {@link MemoryOutbox}. */
export interface MemoryOutboxOptions {
  /** Cap on open telemetry rows; past it the oldest are dropped. Default 100,000. */
  telemetryCap?: number;
}

/** In-memory fake of the `Outbox` port. */
export class MemoryOutbox implements Outbox {
  /** Telemetry rows dropped to stay under the cap. */
  droppedTelemetryTotal = 0;
  /** Times `append` was called with at least one row (a stand-in for transactions). */
  appendCalls = 0;
  private readonly rows = new Map<string, OutboxRow>(); // insertion order = seq order
  private readonly telemetryCap: number;
  private nextSeq = 1;
  private lease: { owner: string; expiresAtMs: number } | null = null;
  private readonly appendListeners = new Set<(rows: readonly OutboxRow[]) => void>();
  private appendClaim: AppendClaim | null = null;

  constructor(opts: MemoryOutboxOptions = {}) {
    this.telemetryCap = opts.telemetryCap ?? 100_000;
  }

  append(rows: NewOutboxRow[]): Promise<void> {
    const copies = rows.map((r) => ({ ...r, headers: { ...r.headers }, body: r.body.slice() }));
    return Promise.resolve().then(() => {
      if (copies.length === 0) return;
      this.appendCalls += 1;
      let telemetry = 0;
      const stored: OutboxRow[] = [];
      const claim = this.claimFor(copies);
      let room = claim?.room ?? 0;
      for (const r of copies) {
        if (this.rows.has(r.correlationId)) continue;
        const row = this.newRow(r);
        if (room > 0 && row.state === 'pending-commit') {
          room -= 1;
          Object.assign(row, {
            state: 'in-flight',
            attempts: 1,
            firstAttemptAtMs: claim!.at,
            lastAttemptAtMs: claim!.at,
            updatedAtMs: claim!.at,
          });
        }
        this.rows.set(r.correlationId, row);
        stored.push(copy(row));
        if (r.kind === 'telemetry') telemetry += 1;
      }
      if (telemetry > 0) this.enforceTelemetryCap();
      const kept = stored.filter((r) => this.rows.has(r.correlationId));
      for (const l of kept.length > 0 ? this.appendListeners : []) {
        try {
          l(kept);
        } catch {
          // As in SqliteOutbox: a listener never fails the append.
        }
      }
    });
  }

  // As SqliteOutbox: ask for room, then renew the claimer's lease; nothing is claimed unless it holds.
  private claimFor(rows: readonly NewOutboxRow[]): { room: number; at: number } | null {
    const claim = this.appendClaim;
    if (claim === null || this.appendListeners.size === 0) return null;
    if (!rows.some((r) => r.state === 'pending-commit' && !this.rows.has(r.correlationId))) return null;
    try {
      const room = claim.room();
      const at = claim.now();
      return room > 0 && this.tryLease(claim.owner, claim.ttlMs, at) ? { room, at } : null;
    } catch {
      return null; // As in SqliteOutbox: a failing claimer never fails the append.
    }
  }

  claimAppends(claim: AppendClaim | null): void {
    this.appendClaim = claim;
  }

  onAppended(listener: (rows: readonly OutboxRow[]) => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  claim(req: ClaimRequest): readonly string[] | null {
    this.markCommitted(req.committed, req.atMs);
    if (req.lease !== undefined && !this.tryLease(req.lease.owner, req.lease.ttlMs, req.atMs)) return null;
    return req.ids.filter((id) => {
      const r = this.rows.get(id);
      if (r?.state !== 'pending-commit') return false;
      this.markInFlight([id], req.atMs);
      return true;
    });
  }

  private newRow(r: NewOutboxRow): OutboxRow {
    return {
      ...r,
      seq: this.nextSeq++,
      attempts: 0,
      firstAttemptAtMs: null,
      lastAttemptAtMs: null,
      lastError: null,
      updatedAtMs: r.createdAtMs,
      stream: null,
      streamSeq: null,
      committedAtMs: null,
      reason: null,
    };
  }

  private enforceTelemetryCap(): void {
    const open = [...this.rows.values()].filter((r) => r.kind === 'telemetry' && OPEN_STATES.has(r.state));
    const unsent = open.filter((r) => r.state !== 'in-flight');
    const drop = unsent.slice(0, Math.max(0, open.length - this.telemetryCap));
    for (const r of drop) this.rows.delete(r.correlationId);
    this.droppedTelemetryTotal += drop.length;
  }

  get(correlationId: string): OutboxRow | undefined {
    const r = this.rows.get(correlationId);
    return r === undefined ? undefined : copy(r);
  }

  listPublishable(limit: number, afterSeq = 0, includeInFlight = false): OutboxRow[] {
    return this.listByState(includeInFlight ? ['pending-commit', 'in-flight'] : ['pending-commit'], limit, afterSeq);
  }

  listByState(states: readonly IntentState[], limit: number, afterSeq = 0): OutboxRow[] {
    const out: OutboxRow[] = [];
    for (const r of this.rows.values()) {
      if (out.length >= limit) break;
      if (r.seq > afterSeq && states.includes(r.state)) out.push(copy(r));
    }
    return out;
  }

  markInFlight(correlationIds: readonly string[], atMs: number): void {
    this.each(correlationIds, (r) => {
      if (r.state !== 'pending-commit' && r.state !== 'in-flight') return;
      r.state = 'in-flight';
      r.attempts += 1;
      r.firstAttemptAtMs ??= atMs;
      r.lastAttemptAtMs = atMs;
      r.updatedAtMs = atMs;
    });
  }

  markCommitted(
    entries: ReadonlyArray<{ correlationId: string } & StreamLocation>,
    atMs: number,
    _opts?: { durable?: boolean },
  ): void {
    for (const e of entries) {
      const r = this.rows.get(e.correlationId);
      if (r === undefined || r.state === 'committed') continue;
      Object.assign(r, {
        state: 'committed',
        stream: e.stream,
        streamSeq: e.seq,
        committedAtMs: atMs,
        updatedAtMs: atMs,
      });
    }
  }

  markRetry(correlationIds: readonly string[], error: string, atMs: number): void {
    this.each(correlationIds, (r) => {
      if (r.state !== 'pending-commit' && r.state !== 'in-flight') return;
      Object.assign(r, { state: 'pending-commit', lastError: error, updatedAtMs: atMs });
    });
  }

  promote(
    correlationId: string,
    body: Uint8Array,
    headers: Record<string, string>,
    atMs: number,
    target: 'pending-commit' | 'in-flight' = 'pending-commit',
  ): boolean {
    const r = this.rows.get(correlationId);
    if (r === undefined || r.state !== 'proposed') return false;
    Object.assign(r, { state: target, body: body.slice(), headers: { ...headers }, updatedAtMs: atMs });
    return true;
  }

  promoteMany(items: readonly PromoteItem[], atMs: number): string[] {
    return items
      .filter((i) => this.promote(i.correlationId, i.body, i.headers, atMs, i.target))
      .map((i) => i.correlationId);
  }

  pruneSettled(beforeMs: number, limit: number): number {
    let deleted = 0;
    for (const state of PRUNABLE_STATES) {
      // Oldest seq first, stopping at the first row of the state that is not old enough.
      for (const r of [...this.rows.values()].filter((x) => x.state === state)) {
        if (deleted >= limit || r.updatedAtMs >= beforeMs) break;
        this.rows.delete(r.correlationId);
        deleted += 1;
      }
    }
    return deleted;
  }

  markTerminal(
    correlationIds: readonly string[],
    state: 'dead' | 'expired' | 'rejected',
    reason: string,
    atMs: number,
    notices: ReadonlyMap<string, NewOutboxRow> = new Map(),
  ): string[] {
    const moved: string[] = [];
    this.each(correlationIds, (r) => {
      if (r.state === 'committed') return;
      Object.assign(r, { state, reason, updatedAtMs: atMs });
      moved.push(r.correlationId);
    });
    for (const id of moved) {
      const n = notices.get(id);
      if (n !== undefined && !this.rows.has(n.correlationId))
        this.rows.set(n.correlationId, this.newRow({ ...n, headers: { ...n.headers }, body: n.body.slice() }));
    }
    return moved;
  }

  private each(ids: readonly string[], fn: (r: OutboxRow) => void): void {
    for (const id of ids) {
      const r = this.rows.get(id);
      if (r !== undefined) fn(r);
    }
  }

  counts(kind?: RowKind): StateCounts {
    const out = Object.fromEntries(INTENT_STATES.map((s) => [s, 0])) as StateCounts;
    for (const r of this.rows.values()) if (kind === undefined || r.kind === kind) out[r.state] += 1;
    return out;
  }

  oldestPendingCreatedAtMs(kind?: RowKind): number | null {
    let oldest: number | null = null;
    for (const r of this.rows.values()) {
      if (
        OPEN_STATES.has(r.state) &&
        (kind === undefined || r.kind === kind) &&
        (oldest === null || r.createdAtMs < oldest)
      )
        oldest = r.createdAtMs;
    }
    return oldest;
  }

  tryLease(owner: string, ttlMs: number, nowMs: number): boolean {
    const l = this.lease;
    if (l !== null && l.owner !== owner && l.expiresAtMs > nowMs) return false;
    this.lease = { owner, expiresAtMs: nowMs + ttlMs };
    return true;
  }

  releaseLease(owner: string): void {
    if (this.lease?.owner === owner) this.lease = null;
  }

  leaseHolder(nowMs: number): { owner: string; expiresAtMs: number } | null {
    const l = this.lease;
    return l !== null && l.expiresAtMs > nowMs ? { ...l } : null;
  }
}

function copy(r: OutboxRow): OutboxRow {
  return { ...r, headers: { ...r.headers } };
}
