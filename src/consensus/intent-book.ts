/**
 * What the consensus driver knows about intents: those whose local row is `proposed`
 * (tracked), those settled here (finished: late gossip about them is dropped), and endorsements
 * that arrived before their proposal (orphans). Also the conversions between a tracked intent,
 * its outbox row and its gossip items.
 */
import { buildCommandRow, type CommandBody, type Endorsement } from '../core/command-message.js';
import type { DsseSignature } from '../core/dsse.js';
import type { EndorsementItem, ProposeItem } from '../core/envelope.js';
import { promotedEventRow, proposedEventRow } from '../core/federation-cohort.js';
import { proposedEventOf } from '../core/federation-message.js';
import { MAX_INTENT_TTL_MS, type OutboxRow } from '../core/intent.js';
import type { PayloadRef } from '../core/payload-ref.js';
import type { Outbox } from '../core/ports.js';

/** What the driver holds for an intent whose local row is `proposed`. */
export interface TrackedIntent {
  correlationId: string;
  subject: string;
  /** The payload; undefined when it goes by reference (the body stays in the proposer's outbox file). */
  payload: unknown;
  /** Set for a payload stored by reference (docs/payloads.md). */
  payloadRef?: PayloadRef;
  payloadDigest: string;
  origin: string;
  createdAtMs: number;
  ttlMs: number;
  traceparent: string;
  /** peerId → base64url signature, every one verified (by the mesh validator or by us). */
  endorsements: Map<string, string>;
  quorumAtMs: number | null;
  lastProposedAtMs: number;
  /**
   * A federation event (payload: its DSSE payload text): the partner, and each endorser's DSSE
   * signature, which an endorsement of it must carry (docs/federation.md).
   */
  federation?: { partner: string; dsse: Map<string, DsseSignature> };
  /**
   * This node's committer rank among the endorsers listed in `key` (space-separated), kept so
   * that every tick does not hash each endorser again while the intent waits for its slot.
   */
  rankMemo?: { key: string; rank: number };
}

/** An endorsement that arrived before its proposal. */
export interface Orphan {
  peerId: string;
  item: EndorsementItem;
}

const ORPHAN_CAP = 10_000;
const ORPHANS_PER_INTENT = 1_024;
const FINISHED_CAP = 100_000;
const decoder = new TextDecoder();

/** The driver's bounded, in-memory view of intents; the outbox stays the source of truth. */
export class IntentBook {
  private readonly tracks = new Map<string, TrackedIntent>();
  private readonly finished = new Set<string>();
  private readonly orphans = new Map<string, Orphan[]>();

  constructor(
    private readonly outbox: Outbox,
    private readonly ttlMs: number,
  ) {}

  /** Tracks every `proposed` row of the outbox (after a restart); returns them. */
  reload(): TrackedIntent[] {
    const loaded: TrackedIntent[] = [];
    for (const row of this.outbox.listByState(['proposed'], 1_000_000)) {
      const t = row.kind === 'command' ? trackFromRow(row, this.ttlMs) : undefined;
      if (t === undefined) continue;
      this.tracks.set(t.correlationId, t);
      loaded.push(t);
    }
    return loaded;
  }

  track(t: TrackedIntent): void {
    this.tracks.set(t.correlationId, t);
  }

  /** The tracked intent, without loading it from the outbox. */
  tracked(id: string): TrackedIntent | undefined {
    return this.tracks.get(id);
  }

  /** A copy of the tracked intents, safe to iterate while finishing some. */
  all(): TrackedIntent[] {
    return [...this.tracks.values()];
  }

  get size(): number {
    return this.tracks.size;
  }

  /** The tracked intent, 'done' when settled here, undefined when unknown. Loads `proposed` rows lazily. */
  find(id: string): TrackedIntent | 'done' | undefined {
    const t = this.tracks.get(id);
    if (t !== undefined) return t;
    if (this.finished.has(id)) return 'done';
    const row = this.outbox.get(id);
    if (row === undefined) return undefined;
    const rebuilt = row.state === 'proposed' ? trackFromRow(row, this.ttlMs) : undefined;
    if (rebuilt === undefined) {
      this.finish(id);
      return 'done';
    }
    this.tracks.set(id, rebuilt);
    return rebuilt;
  }

  /** Stops tracking `id`: it was promoted, committed or expired here. */
  finish(id: string): void {
    this.tracks.delete(id);
    if (this.finished.size >= FINISHED_CAP) this.finished.delete(this.finished.values().next().value!);
    this.finished.add(id);
  }

  /** Keeps an endorsement of an intent not seen yet (bounded: oldest intents are dropped first). */
  keepOrphan(peerId: string, item: EndorsementItem): void {
    const list = this.orphans.get(item.correlationId);
    if (list !== undefined) {
      if (list.length < ORPHANS_PER_INTENT) list.push({ peerId, item });
      return;
    }
    if (this.orphans.size >= ORPHAN_CAP) this.orphans.delete(this.orphans.keys().next().value!);
    this.orphans.set(item.correlationId, [{ peerId, item }]);
  }

  /** Removes and returns the early endorsements of `id`. */
  takeOrphans(id: string): Orphan[] {
    const early = this.orphans.get(id) ?? [];
    this.orphans.delete(id);
    return early;
  }
}

/** This node's endorsement of `t` as a gossip item (with `self`'s DSSE signature of an event). */
export function endorsementItemOf(t: TrackedIntent, signature: string, self: string): EndorsementItem {
  const dsse = t.federation?.dsse.get(self);
  return {
    correlationId: t.correlationId,
    payloadDigest: t.payloadDigest,
    signature,
    ...(dsse === undefined ? {} : { dsse }),
  };
}

/** `t` as an item of an `intent.propose` batch. */
export function proposeItemOf(t: TrackedIntent): ProposeItem {
  return {
    correlationId: t.correlationId,
    subject: t.subject,
    ...(t.payloadRef === undefined
      ? { payload: t.payload as ProposeItem['payload'] }
      : { payloadRef: t.payloadRef as ProposeItem['payloadRef'] }),
    payloadDigest: t.payloadDigest,
    createdAtMs: t.createdAtMs,
    ttlMs: t.ttlMs,
    traceparent: t.traceparent,
    ...(t.federation === undefined ? {} : { federation: { partner: t.federation.partner } }),
  };
}

/** A peer's proposed intent, tracked with no endorsements yet. */
export function trackFromProposal(item: ProposeItem, origin: string): TrackedIntent {
  return {
    correlationId: item.correlationId,
    subject: item.subject,
    payload: item.payload,
    ...(item.payloadRef === undefined ? {} : { payloadRef: item.payloadRef }),
    payloadDigest: item.payloadDigest,
    origin,
    createdAtMs: item.createdAtMs,
    ttlMs: item.ttlMs,
    traceparent: item.traceparent,
    endorsements: new Map(),
    quorumAtMs: null,
    lastProposedAtMs: 0,
    ...(item.federation === undefined ? {} : { federation: { partner: item.federation.partner, dsse: new Map() } }),
  };
}

/** The outbox row of `t` in `state`, with `endorsements` (default: all held) and the endorsing shard's name. */
export function rowOf(
  t: TrackedIntent,
  state: 'proposed' | 'pending-commit',
  endorsements?: Endorsement[],
  shard?: string | null,
): ReturnType<typeof buildCommandRow> {
  const held = endorsements ?? [...t.endorsements].map(([peerId, signature]) => ({ peerId, signature }));
  if (t.federation !== undefined) {
    const input = {
      correlationId: t.correlationId,
      subject: t.subject,
      partner: t.federation.partner,
      text: t.payload as string,
      payloadDigest: t.payloadDigest,
      origin: t.origin,
      traceparent: t.traceparent,
      createdAtMs: t.createdAtMs,
      endorsements: held,
      dsse: t.federation.dsse,
      shard: shard ?? null,
    };
    return state === 'proposed' ? proposedEventRow(input) : promotedEventRow(input);
  }
  return buildCommandRow({
    correlationId: t.correlationId,
    subject: t.subject,
    payload: t.payload,
    ...(t.payloadRef === undefined ? {} : { payloadRef: t.payloadRef }),
    origin: t.origin,
    traceparent: t.traceparent,
    createdAtMs: t.createdAtMs,
    payloadDigest: t.payloadDigest,
    state,
    endorsements: held,
    shard: shard ?? null,
  });
}

/** Rebuilds what the driver tracks from a stored `proposed` row (after a restart). */
function trackFromRow(row: OutboxRow, ttlMs: number): TrackedIntent | undefined {
  let body: CommandBody;
  try {
    body = JSON.parse(decoder.decode(row.body)) as CommandBody;
  } catch {
    return undefined;
  }
  const traceparent = row.headers['traceparent'];
  if (body.payloadDigest === undefined || traceparent === undefined) return undefined;
  const event = proposedEventOf(body as CommandBody & { federation?: unknown });
  return {
    correlationId: row.correlationId,
    subject: row.subject,
    payload: body.payload,
    ...(body.payloadRef === undefined ? {} : { payloadRef: body.payloadRef }),
    payloadDigest: body.payloadDigest,
    origin: body.origin,
    createdAtMs: row.createdAtMs,
    ttlMs: Math.min(ttlMs, MAX_INTENT_TTL_MS),
    traceparent,
    endorsements: new Map((body.endorsements ?? []).map((e) => [e.peerId, e.signature])),
    quorumAtMs: null,
    lastProposedAtMs: 0,
    ...(event === undefined
      ? {}
      : {
          federation: {
            partner: event.partner,
            dsse: new Map(event.signatures.map((s) => [s.peerId, { keyid: s.keyid, sig: s.sig }])),
          },
        }),
  };
}
