/**
 * Proposal intake: the local agent's intents (validated, signed, durable as `proposed`, then
 * gossiped in a batch), peers' proposals (checked, optionally put to the local agent, stored and
 * endorsed), and re-proposals of own intents still short of quorum.
 */
import { isExpired } from '../core/consensus.js';
import { endorsesIn } from '../core/membership.js';
import { payloadDigest } from '../core/digest.js';
import type { CohortEvent } from '../core/federation-cohort.js';
import { NetSyncError } from '../core/errors.js';
import { encodeSignature, endorsementBytes, proposeDigestMatches, type ProposeItem } from '../core/envelope.js';
import { assertSameIntent, keyedCorrelationId } from '../core/idempotency.js';
import {
  batchAnswer,
  parseIntentBatch,
  replayedItem,
  type BatchAnswer,
  type BatchItemResult,
} from '../core/intent-batch.js';
import { parseIntentInput, type IntentInput } from '../core/intent-input.js';
import { sameBytes } from '../core/same-bytes.js';
import { MAX_INTENT_TTL_MS, type IntentState } from '../core/intent.js';
import { checkSubject } from '../core/subject.js';
import type { EndorsingShard } from '../core/ports.js';
import { childTraceparent } from '../core/trace-context.js';
import { hopNow, intentHop } from '../observability/intent-hops.js';
import type { ConsensusContext } from './consensus-context.js';
import type { CommitSettlement } from './commit-settlement.js';
import type { EndorsementQuorum } from './endorsement-quorum.js';
import type { ProposalRefusal } from './metrics.js';
import { endorsementItemOf, proposeItemOf, rowOf, trackFromProposal, type TrackedIntent } from './intent-book.js';

/** Longest wait for a proposal's gossip send before the 202, ms (one batch delay is ~20 ms). */
const PROPOSAL_SEND_WAIT_MS = 250;

const REFUSED_CAP = 10_000;
const encoder = new TextEncoder();

/** A federation event of the local agent, its DSSE payload text fixed (docs/federation.md). */
export type LocalEvent = CohortEvent;

/** Takes intents in, from the local agent and from peers. */
export class ProposalIntake {
  private readonly inProgress = new Set<string>();
  private readonly asks = new Map<string, (endorse: boolean) => void>();
  /** Proposals not endorsed here, so that re-proposals count once as `rejected`. */
  private readonly refused = new Set<string>();
  private readonly reproposeQueue = new Set<string>();

  constructor(
    private readonly ctx: ConsensusContext,
    private readonly quorum: EndorsementQuorum,
    private readonly settlement: CommitSettlement,
  ) {}

  /**
   * Accepts a local intent: validates it (INPUT_INVALID naming the field), signs its
   * endorsement, stores it as `proposed`, and queues its proposal. Resolves once the row is
   * durable, never waiting for gossip: the batch leaves at once after a quiet period, else within
   * `batchDelayMs`. A proposer killed before that keeps the row and re-proposes it on restart.
   */
  async accept(
    body: unknown,
    traceparent?: string,
    idempotencyKey?: string,
  ): Promise<{ correlationId: string; state: IntentState }> {
    const { opts, self } = this.ctx;
    const receivedAt = hopNow();
    const input = parseIntentInput(body, opts.limits);
    const home = this.homeShard();
    const now = opts.clock.now();
    const correlationId = idempotencyKey === undefined ? opts.newId(now) : keyedCorrelationId(idempotencyKey);
    intentHop(correlationId, 'accept', receivedAt);
    // A keyed intent this node already holds (proposed here, or endorsed for a peer): the same intent.
    const known = idempotencyKey === undefined ? undefined : opts.outbox.get(correlationId);
    if (known !== undefined) {
      assertSameIntent(known.body, input.subject, input.payload);
      return { correlationId, state: known.state };
    }
    const t = await this.trackOwn(correlationId, input, traceparent, now);
    const signature = encodeSignature(await opts.gossip.sign(endorsementBytes(t.correlationId, t.payloadDigest)));
    if (endorsesIn(home, self)) t.endorsements.set(self, signature);
    const row = rowOf(t, 'proposed', undefined, home.name);
    await opts.outbox.append([row]);
    intentHop(correlationId, 'durable');
    if (idempotencyKey !== undefined) {
      // Two requests with one key raced (or a peer's proposal of it arrived): the first stored wins.
      const stored = opts.outbox.get(correlationId);
      if (stored !== undefined && !sameBytes(stored.body, row.body)) {
        assertSameIntent(stored.body, input.subject, input.payload);
        return { correlationId, state: stored.state };
      }
    }
    return { correlationId, state: await this.propose(t, signature) };
  }

  /**
   * The batch form (docs/contracts.md#batches): each valid item is an intent proposed as
   * {@link accept} proposes one, but all of the batch's new rows are stored in ONE transaction,
   * durable before any proposal is queued. One result per item, in request order; an item held
   * under its `idempotencyKey` answers with that intent. Throws for the batch as a whole only.
   */
  async acceptBatch(body: readonly unknown[], traceparent?: string): Promise<BatchAnswer> {
    const { opts, self } = this.ctx;
    const items = parseIntentBatch(body, opts.limits);
    const home = this.homeShard();
    const now = opts.clock.now();
    const results = new Map<number, BatchItemResult>();
    const fresh: Array<{ index: number; key: string | undefined; input: IntentInput; t: TrackedIntent }> = [];
    for (const item of items) {
      if ('error' in item) results.set(item.index, item);
      if (!('input' in item)) continue;
      const { index, input, idempotencyKey: key } = item;
      const correlationId = key === undefined ? opts.newId(now) : keyedCorrelationId(key);
      const known = key === undefined ? undefined : opts.outbox.get(correlationId);
      if (known !== undefined) results.set(index, replayedItem(index, known, input));
      else fresh.push({ index, key, input, t: await this.trackOwn(correlationId, input, traceparent, now) });
    }
    const signatures = await Promise.all(
      fresh.map(async ({ t }) =>
        encodeSignature(await opts.gossip.sign(endorsementBytes(t.correlationId, t.payloadDigest))),
      ),
    );
    const rows = fresh.map(({ t }, i) => {
      if (endorsesIn(home, self)) t.endorsements.set(self, signatures[i]!);
      return rowOf(t, 'proposed', undefined, home.name);
    });
    if (rows.length > 0) await opts.outbox.append(rows);
    const proposed = fresh.map(async ({ index, key, input, t }, i) => {
      // Two requests with one key raced (or a peer's proposal of it arrived): the first stored wins.
      const stored = key === undefined ? undefined : opts.outbox.get(t.correlationId);
      if (stored !== undefined && !sameBytes(stored.body, rows[i]!.body))
        return results.set(index, replayedItem(index, stored, input));
      results.set(index, { index, correlationId: t.correlationId, state: await this.propose(t, signatures[i]!) });
    });
    await Promise.all(proposed);
    return batchAnswer(items, results);
  }

  // An own intent to track, its payload stored by reference when too large for gossip (docs/payloads.md).
  private async trackOwn(
    correlationId: string,
    input: IntentInput,
    traceparent: string | undefined,
    now: number,
  ): Promise<TrackedIntent> {
    const { opts, self } = this.ctx;
    const payloadRef = await opts.externalise?.(correlationId, input.payload, input.payloadBytes, input.payloadJson);
    return {
      correlationId,
      subject: input.subject,
      payload: payloadRef === undefined ? input.payload : undefined,
      ...(payloadRef === undefined ? {} : { payloadRef }),
      payloadDigest: payloadRef?.digest ?? payloadDigest(input.payload),
      origin: self,
      createdAtMs: now,
      ttlMs: Math.min(opts.ttlMs, MAX_INTENT_TTL_MS),
      traceparent: childTraceparent(traceparent, opts.randomHex),
      endorsements: new Map(),
      quorumAtMs: null,
      lastProposedAtMs: now,
    };
  }

  /**
   * Accepts a federation event of the local agent, already checked and its payload text fixed by
   * the federation intake: signs its endorsement and its DSSE signature, stores it as `proposed`
   * and queues its proposal, as {@link accept} does. When a row with this ID is stored already
   * (a keyed event raced), that row's state is returned and nothing is proposed.
   */
  async acceptEvent(e: LocalEvent): Promise<IntentState> {
    const { opts, self } = this.ctx;
    const home = this.homeShard();
    const federation = opts.federation;
    if (federation === undefined)
      throw new NetSyncError('INTERNAL', 'federation events reached a consensus driver built without federation');
    const t: TrackedIntent = {
      correlationId: e.eventId,
      subject: e.subject,
      payload: e.text,
      payloadDigest: payloadDigest(e.text),
      origin: self,
      createdAtMs: e.createdAtMs,
      ttlMs: Math.min(opts.ttlMs, MAX_INTENT_TTL_MS),
      traceparent: e.traceparent,
      endorsements: new Map(),
      quorumAtMs: null,
      lastProposedAtMs: opts.clock.now(),
      federation: { partner: e.partner, dsse: new Map() },
    };
    const [signature, dsse] = await Promise.all([
      opts.gossip.sign(endorsementBytes(t.correlationId, t.payloadDigest)).then(encodeSignature),
      federation.sign(e.text),
    ]);
    if (endorsesIn(home, self)) {
      t.endorsements.set(self, signature);
      t.federation!.dsse.set(self, dsse);
    }
    const row = rowOf(t, 'proposed', undefined, home.name);
    await opts.outbox.append([row]);
    const stored = opts.outbox.get(t.correlationId);
    if (stored !== undefined && !sameBytes(stored.body, row.body)) return stored.state;
    return this.propose(t, signature);
  }

  private homeShard(): EndorsingShard {
    const { self, membership } = this.ctx;
    const home = membership.shardOf(self);
    // No shard would ever endorse it: refuse now rather than answer 202 and let it expire.
    if (home === undefined)
      throw new NetSyncError(
        'NOT_A_MEMBER',
        `this sidecar (${self}) is not in consensus.members or consensus.cohort, so no member would ` +
          'endorse its intents; submit to a member, or add this peer ID to the list',
        { field: 'consensus.members' },
      );
    return home;
  }

  // Tracks a stored own proposal, queues it and this node's endorsement, and waits briefly for
  // the proposal to leave. Resolves with the row's state.
  private async propose(t: TrackedIntent, signature: string): Promise<IntentState> {
    const { opts, self } = this.ctx;
    this.ctx.book.track(t);
    opts.emit('intent:proposed', {
      correlationId: t.correlationId,
      state: 'proposed',
      subject: t.subject,
      origin: t.origin,
    });
    const sent = this.ctx.proposals.submit(proposeItemOf(t));
    if (t.endorsements.has(self)) this.ctx.endorsements.add(endorsementItemOf(t, signature, self));
    this.quorum.evaluate(t);
    // The row is durable already. Also wait (briefly) for the proposal to leave this node, so
    // that peers can commit it even if this node dies right after the 202. Real time, bounded.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      sent.then(() => intentHop(t.correlationId, 'proposal-sent')),
      new Promise<void>((r) => (timer = setTimeout(r, PROPOSAL_SEND_WAIT_MS))),
    ]);
    clearTimeout(timer);
    // gossipsub's publish resolves once the RPC is handed to each peer's outbound stream; a
    // write the stream layers below finish in queued microtasks is done after one macrotask, so
    // the proposal's bytes reach the socket before the 202's do (a write held by backpressure
    // still waits: then the row's re-proposal after a restart covers it).
    await new Promise<void>((r) => setImmediate(r));
    intentHop(t.correlationId, 'replied');
    return opts.outbox.get(t.correlationId)?.state ?? 'proposed';
  }

  /** The agent's answer under `agent` policy. False when nothing is being asked about that ID. */
  answerEndorsement(correlationId: string, endorse: boolean): boolean {
    const answer = this.asks.get(correlationId);
    if (answer === undefined) return false;
    answer(endorse);
    return true;
  }

  /** Answers every pending agent ask as an abstention (on stop). */
  abstainAll(): void {
    for (const answer of this.asks.values()) answer(false);
  }

  /** One intent of a peer's `intent.propose` from `origin` (the batch's authenticated author). */
  async onPropose(item: ProposeItem, origin: string): Promise<void> {
    const { opts, book } = this.ctx;
    const id = item.correlationId;
    intentHop(id, 'propose-in');
    if (this.inProgress.has(id)) return;
    const known = book.find(id);
    if (known === 'done') return this.settlement.answerDone(id);
    if (known !== undefined) return this.resendEndorsement(known);
    const refusal = this.checkProposal(item, origin);
    if (refusal !== null) {
      opts.logger.debug({ correlationId: id, origin, refusal }, 'proposal not endorsed');
      return this.countRefusal(id, refusal.reason);
    }
    this.inProgress.add(id);
    try {
      if (opts.policy === 'agent' && !(await this.askAgent(item, origin))) {
        opts.logger.info({ correlationId: id, origin }, 'agent vetoed or abstained');
        return this.countRefusal(id, 'agent-declined');
      }
      await this.endorse(trackFromProposal(item, origin));
    } finally {
      this.inProgress.delete(id);
    }
  }

  /** Queues an own intent for re-proposal (sent by `drainReproposals`). */
  queueReproposal(id: string): void {
    this.reproposeQueue.add(id);
  }

  /** Re-gossips up to `reproposePerTick` queued proposals (gossip has no backpressure) with our endorsement. */
  drainReproposals(now: number): void {
    let budget = this.ctx.opts.reproposePerTick ?? 20;
    for (const id of this.reproposeQueue) {
      if (budget-- <= 0) break;
      this.reproposeQueue.delete(id);
      const t = this.ctx.book.tracked(id);
      if (t === undefined) continue;
      t.lastProposedAtMs = now;
      this.ctx.proposals.add(proposeItemOf(t));
      this.resendEndorsement(t);
    }
  }

  private checkProposal(item: ProposeItem, origin: string): { reason: ProposalRefusal; detail?: string } | null {
    const { opts, self, membership } = this.ctx;
    const no = (reason: ProposalRefusal, detail?: string) => (detail === undefined ? { reason } : { reason, detail });
    if (isExpired(item.createdAtMs, item.ttlMs, opts.clock.now())) return no('expired');
    const shard = membership.shardOf(origin);
    if (shard === undefined) return no('origin-not-a-member');
    // A member endorses its own shard's intents only (a cohort is one shard).
    if (!endorsesIn(shard, self)) return no('self-not-in-shard');
    if (!proposeDigestMatches(item)) return no('digest-mismatch');
    // A federation event: this node's own partners and rules decide (they bound its size too).
    if (item.federation !== undefined) {
      // A federation event always carries its payload inline (its DSSE payload text).
      if (item.payload === undefined) return no('digest-mismatch');
      if (opts.federation === undefined) return no('federation-off');
      const refused = opts.federation.check({ ...item, payload: item.payload }, origin);
      return refused === null ? null : no('federation-refused', refused);
    }
    if (checkSubject(item.subject, opts.limits.prefix, 'command') !== null) return no('subject-not-allowed');
    // This node's committer (or inbox) looks for the object in its own bucket: another is refused.
    const ref = item.payloadRef;
    if (ref !== undefined && opts.payloadBucket !== undefined && ref.bucket !== opts.payloadBucket)
      return no('payload-ref-bucket', `payloadRef.bucket ${ref.bucket} is not payloads.bucket ${opts.payloadBucket}`);
    const size = ref?.size ?? encoder.encode(JSON.stringify(item.payload)).length;
    if (size > opts.limits.maxPayloadBytes) return no('payload-too-large');
    return null;
  }

  /** Stores the intent as `proposed`, then gossips this node's signature over it. */
  private async endorse(t: TrackedIntent): Promise<void> {
    const { opts, book, self } = this.ctx;
    const [signature, dsse] = await Promise.all([
      opts.gossip.sign(endorsementBytes(t.correlationId, t.payloadDigest)).then(encodeSignature),
      t.federation === undefined ? undefined : opts.federation?.sign(t.payload as string),
    ]);
    if (t.federation !== undefined) {
      if (dsse === undefined) return;
      t.federation.dsse.set(self, dsse);
    }
    t.endorsements.set(self, signature);
    await opts.outbox.append([rowOf(t, 'proposed', undefined, this.ctx.membership.shardOf(t.origin)?.name)]);
    intentHop(t.correlationId, 'endorser-durable');
    if (opts.outbox.get(t.correlationId)?.state !== 'proposed') return; // settled meanwhile
    book.track(t);
    this.ctx.endorsements.add(endorsementItemOf(t, signature, self));
    opts.emit('intent:proposed', {
      correlationId: t.correlationId,
      state: 'proposed',
      subject: t.subject,
      origin: t.origin,
    });
    this.quorum.adoptOrphans(t);
  }

  private resendEndorsement(t: TrackedIntent): void {
    const own = t.endorsements.get(this.ctx.self);
    if (own !== undefined) this.ctx.endorsements.add(endorsementItemOf(t, own, this.ctx.self));
  }

  private countRefusal(id: string, reason: ProposalRefusal): void {
    if (this.refused.has(id)) return;
    if (this.refused.size >= REFUSED_CAP) this.refused.delete(this.refused.values().next().value!);
    this.refused.add(id);
    this.ctx.opts.metrics?.intents.inc({ outcome: 'rejected' });
    this.ctx.opts.metrics?.refusals?.inc({ reason });
  }

  private async askAgent(item: ProposeItem, origin: string): Promise<boolean> {
    const { opts } = this.ctx;
    const timer = new AbortController();
    const answered = new Promise<boolean>((resolve) => this.asks.set(item.correlationId, resolve));
    opts.emit('intent:endorsement-requested', {
      correlationId: item.correlationId,
      subject: item.subject,
      // By reference: the agent fetches the object itself if it must see it (docs/payloads.md).
      ...(item.payloadRef === undefined ? { payload: item.payload } : { payloadRef: item.payloadRef }),
      payloadDigest: item.payloadDigest,
      origin,
      timeoutMs: opts.agentTimeoutMs,
    });
    const timeout = opts.clock.sleep(opts.agentTimeoutMs, timer.signal).then(
      () => false,
      () => false,
    );
    try {
      return await Promise.race([answered, timeout]);
    } finally {
      timer.abort();
      this.asks.delete(item.correlationId);
    }
  }
}
