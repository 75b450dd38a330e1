/**
 * The consensus driver: propose, endorse, commit once. It sees ports only (Outbox, Gossip,
 * Clock) plus two hooks (wake the committer, emit an agent-facing event); the rules it applies
 * are the pure functions of `core/consensus.ts`.
 *
 * Flow per intent: the proposer stores it as `proposed` (durable before the 202), gossips
 * `intent.propose` and its own endorsement. Every endorser validates it, stores it as
 * `proposed`, then gossips its signature (batched). Whoever holds a quorum ranks the endorsers
 * by hash(correlationId ‖ peerId): rank 0 promotes its row to `pending-commit` at once, rank k
 * after k × takeoverMs unless an `intent.committed` arrived. PubAcks are gossiped (batched) as
 * `intent.committed`, and every peer marks its copy committed. No quorum by the TTL → `expired`.
 *
 * Trust: the Gossip port delivers only envelopes that passed the mesh validator, which checks
 * the author and every endorsement signature; the driver re-checks what is cheap (cohort,
 * digest, subject, TTL).
 */
import { buildCommandRow, type CommandBody, type Endorsement } from '../core/command-message.js';
import {
  committerRank,
  hasQuorum,
  inCohort,
  isExpired,
  takeoverAtMs,
} from '../core/consensus.js';
import { payloadDigest } from '../core/digest.js';
import { hasCode } from '../core/errors.js';
import {
  ENVELOPE_SCHEMA_VERSION,
  encodeSignature,
  endorsementBytes,
  proposeDigestMatches,
  type CommitItem,
  type CommittedEnvelope,
  type EndorseEnvelope,
  type EndorsementItem,
  type Envelope,
  type ProposeEnvelope,
} from '../core/envelope.js';
import { parseIntentInput, type IntentLimits } from '../core/intent-input.js';
import type { IntentState, OutboxRow, StreamLocation } from '../core/intent.js';
import type { Clock, Gossip, Outbox } from '../core/ports.js';
import { checkSubject } from '../core/subject.js';
import { childTraceparent } from '../core/trace-context.js';
import type { Logger } from '../observability/logger.js';
import { GossipBatcher } from './gossip-batcher.js';

/** Events the driver reports to the local agent (SSE). */
export type ConsensusEvent =
  | 'intent:proposed'
  | 'intent:endorsed'
  | 'intent:committed'
  | 'intent:expired'
  | 'intent:endorsement-requested';

/** Collaborators and tuning of {@link ConsensusDriver}. */
export interface ConsensusDriverOptions {
  outbox: Outbox;
  gossip: Gossip;
  clock: Clock;
  logger: Logger;
  /** Called after a promotion, so the committer publishes at once. */
  wakeCommitter: () => void;
  /** Reports an event to the local agent. Must not throw. */
  emit: (event: ConsensusEvent, data: Record<string, unknown>) => void;
  /** Submission limits and the subject prefix (allow-list `<prefix>.command.`). */
  limits: IntentLimits;
  /** Endorsements needed (resolved: see `resolveQuorum`). */
  quorum: number;
  /** Peers allowed to endorse; empty = open mode. */
  cohort: readonly string[];
  /** `auto`: schema and subject decide; `agent`: the local agent is asked and may veto. */
  policy: 'auto' | 'agent';
  /** How long an intent may wait for quorum, ms (at most a day). */
  ttlMs: number;
  /** Wait per rank before a lower-ranked endorser takes over the commit, ms. */
  takeoverMs: number;
  /** How long the agent has to answer under `agent` policy, ms; silence abstains. */
  agentTimeoutMs: number;
  newId: (nowMs: number) => string;
  randomHex: (bytes: number) => string;
  /** Scheduling period (takeovers, expiry, re-proposals), ms. Default 100. */
  tickMs?: number;
  /** Longest wait of an endorsement or commit before its batch is sent, ms. Default 20. */
  batchDelayMs?: number;
  /** Items per endorse/committed message. Default 256. */
  batchMaxItems?: number;
  /**
   * Wait after quorum before rank 0 promotes, so endorsements still in flight arrive and every
   * node ranks the same endorser set (two nodes each ranking themselves first would both publish;
   * the duplicate window would absorb it, at the cost of a publish). Skipped once every cohort
   * member has endorsed. Default 2 × batchDelayMs.
   */
  settleMs?: number;
  /** Own proposals still short of quorum are re-gossiped this often, ms. Default 5,000. */
  reproposeMs?: number;
  /** Re-proposals sent per tick at most (gossip has no backpressure). Default 20. */
  reproposePerTick?: number;
  /**
   * A promotion this long after the intent's creation, or by a takeover, lets the committer look
   * the ID up in the stream before publishing (another node may have published it, maybe
   * outside the duplicate window). Default 30,000 ms.
   */
  lookupAfterMs?: number;
}

/** What the driver holds for an intent whose local row is `proposed`. */
interface Tracked {
  correlationId: string;
  subject: string;
  payload: unknown;
  payloadDigest: string;
  origin: string;
  createdAtMs: number;
  ttlMs: number;
  traceparent: string;
  /** peerId → base64url signature, every one verified (by the mesh validator or by us). */
  endorsements: Map<string, string>;
  quorumAtMs: number | null;
  lastProposedAtMs: number;
}

const ORPHAN_CAP = 10_000;
const FINISHED_CAP = 100_000;
const MAX_TTL_MS = 86_400_000;
const decoder = new TextDecoder();

/** Drives propose/endorse/commit for one node. start() once, stop() to flush and detach. */
export class ConsensusDriver {
  private readonly opts: ConsensusDriverOptions;
  private readonly self: string;
  private readonly cohort: ReadonlySet<string>;
  private readonly tracks = new Map<string, Tracked>();
  /** IDs no longer tracked (promoted, committed, expired): late gossip about them is dropped. */
  private readonly finished = new Set<string>();
  /** Endorsements that arrived before their proposal. */
  private readonly orphans = new Map<string, Array<{ peerId: string; item: EndorsementItem }>>();
  private readonly inProgress = new Set<string>();
  private readonly asks = new Map<string, (endorse: boolean) => void>();
  private readonly endorseBatcher: GossipBatcher<EndorsementItem>;
  private readonly commitBatcher: GossipBatcher<CommitItem>;
  private reproposeQueue = new Set<string>();
  private knownPeers = new Set<string>();
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(opts: ConsensusDriverOptions) {
    this.opts = opts;
    this.self = opts.gossip.peerId;
    this.cohort = new Set(opts.cohort);
    const batch = { clock: opts.clock, delayMs: opts.batchDelayMs ?? 20, maxItems: opts.batchMaxItems ?? 256 };
    const onError = (what: string) => (err: unknown, items: number) =>
      opts.logger.debug({ err, items }, `${what} batch not sent; re-proposals recover it`);
    this.endorseBatcher = new GossipBatcher<EndorsementItem>({
      ...batch,
      send: (endorsements) => this.publish({ schemaVersion: ENVELOPE_SCHEMA_VERSION, kind: 'intent.endorse', endorser: this.self, endorsements }),
      onError: onError('endorse'),
    });
    this.commitBatcher = new GossipBatcher<CommitItem>({
      ...batch,
      send: (commits) => this.publish({ schemaVersion: ENVELOPE_SCHEMA_VERSION, kind: 'intent.committed', committer: this.self, commits }),
      onError: onError('committed'),
    });
  }

  /** Reloads `proposed` rows from the outbox, subscribes to gossip and starts the scheduling loop. */
  start(): void {
    if (this.loop !== null) return;
    for (const row of this.opts.outbox.listByState(['proposed'], 1_000_000)) {
      const t = row.kind === 'command' ? trackFromRow(row, this.opts.ttlMs) : undefined;
      if (t === undefined) continue;
      this.tracks.set(t.correlationId, t);
      if (t.origin === this.self) this.reproposeQueue.add(t.correlationId);
    }
    this.unsubscribe = this.opts.gossip.onEnvelope((e, from) => this.receive(e, from));
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
    this.opts.logger.info({ proposed: this.tracks.size, quorum: this.opts.quorum, cohort: this.cohort.size, policy: this.opts.policy }, 'consensus started');
  }

  /** Stops the loop, answers pending agent asks as abstentions, sends queued batches. Safe twice. */
  async stop(): Promise<void> {
    if (this.loop === null) return;
    this.abort?.abort();
    await this.loop;
    this.loop = null;
    this.unsubscribe?.();
    for (const answer of this.asks.values()) answer(false);
    await Promise.all([this.endorseBatcher.stop(), this.commitBatcher.stop()]);
  }

  /**
   * Accepts a local intent: validates it (INPUT_INVALID naming the field), signs its
   * endorsement, stores it as `proposed` (durable before this resolves), gossips the proposal.
   */
  async accept(body: unknown, traceparent?: string): Promise<{ correlationId: string; state: IntentState }> {
    const { clock, outbox, gossip } = this.opts;
    const input = parseIntentInput(body, this.opts.limits);
    const now = clock.now();
    const t: Tracked = {
      correlationId: this.opts.newId(now),
      subject: input.subject,
      payload: input.payload,
      payloadDigest: payloadDigest(input.payload),
      origin: this.self,
      createdAtMs: now,
      ttlMs: Math.min(this.opts.ttlMs, MAX_TTL_MS),
      traceparent: childTraceparent(traceparent, this.opts.randomHex),
      endorsements: new Map(),
      quorumAtMs: null,
      lastProposedAtMs: now,
    };
    const signature = encodeSignature(await gossip.sign(endorsementBytes(t.correlationId, t.payloadDigest)));
    if (inCohort(this.self, this.cohort)) t.endorsements.set(this.self, signature);
    await outbox.append([rowOf(t, 'proposed')]);
    this.tracks.set(t.correlationId, t);
    this.opts.emit('intent:proposed', { correlationId: t.correlationId, state: 'proposed', subject: t.subject, origin: t.origin });
    // Gossiped before the 202: a proposer killed right after answering has already told its peers.
    await this.propose(t);
    if (t.endorsements.has(this.self)) this.endorseBatcher.add(itemOf(t, signature));
    this.evaluate(t);
    return { correlationId: t.correlationId, state: outbox.get(t.correlationId)?.state ?? 'proposed' };
  }

  /** The committer's hook: rows it published (PubAck) are announced as `intent.committed`. */
  onCommitted(entries: ReadonlyArray<{ correlationId: string } & StreamLocation>): void {
    for (const e of entries) {
      if (this.opts.outbox.get(e.correlationId)?.kind !== 'command') continue;
      this.finish(e.correlationId);
      this.commitBatcher.add({ correlationId: e.correlationId, stream: e.stream, seq: e.seq });
    }
  }

  /** Endorsements held for a `proposed` intent (more than its stored row shows), or undefined. */
  endorsementsOf(correlationId: string): Endorsement[] | undefined {
    const t = this.tracks.get(correlationId);
    return t === undefined ? undefined : [...t.endorsements].map(([peerId, signature]) => ({ peerId, signature }));
  }

  /** The agent's answer under `agent` policy. False when nothing is being asked about that ID. */
  answerEndorsement(correlationId: string, endorse: boolean): boolean {
    const answer = this.asks.get(correlationId);
    if (answer === undefined) return false;
    answer(endorse);
    return true;
  }

  /** Counts for `status`. */
  snapshot(): { proposed: number; awaitingTakeover: number } {
    let awaiting = 0;
    for (const t of this.tracks.values()) if (t.quorumAtMs !== null) awaiting++;
    return { proposed: this.tracks.size, awaitingTakeover: awaiting };
  }

  /**
   * One scheduling round: takeovers whose slot came, expiry of intents past their TTL without
   * quorum, re-proposals (after a peer joined, or every `reproposeMs`). The loop runs it every
   * `tickMs`; tests call it directly.
   */
  tick(): void {
    const now = this.opts.clock.now();
    const expired: Tracked[] = [];
    const reproposeMs = this.opts.reproposeMs ?? 5_000;
    const joined = this.peersJoined();
    for (const t of [...this.tracks.values()]) {
      if (t.quorumAtMs !== null) this.evaluate(t);
      else if (isExpired(t.createdAtMs, t.ttlMs, now)) expired.push(t);
      else if (t.origin === this.self && (joined || now - t.lastProposedAtMs >= reproposeMs)) this.reproposeQueue.add(t.correlationId);
    }
    this.expire(expired, now);
    this.drainReproposals(now);
  }

  private async run(signal: AbortSignal): Promise<void> {
    const tickMs = this.opts.tickMs ?? 100;
    while (!signal.aborted) {
      try {
        this.tick();
      } catch (err) {
        this.opts.logger.warn({ err }, 'consensus tick failed');
      }
      try {
        await this.opts.clock.sleep(tickMs, signal);
      } catch (err) {
        if (!hasCode(err, 'ABORTED')) this.opts.logger.warn({ err }, 'consensus sleep failed');
        break;
      }
    }
  }

  private receive(envelope: Envelope, from: string): void {
    switch (envelope.kind) {
      case 'intent.propose':
        this.onPropose(envelope).catch((err: unknown) =>
          this.opts.logger.warn({ err, correlationId: envelope.correlationId }, 'proposal handling failed'));
        return;
      case 'intent.endorse':
        this.onEndorse(envelope, from);
        return;
      case 'intent.committed':
        this.onCommittedGossip(envelope);
        return;
      case 'heartbeat':
        return;
    }
  }

  private async onPropose(e: ProposeEnvelope): Promise<void> {
    const id = e.correlationId;
    if (this.inProgress.has(id)) return;
    const known = this.find(id);
    if (known === 'done') return this.answerDone(id);
    if (known !== undefined) return this.resendEndorsement(known);
    const refusal = this.checkProposal(e);
    if (refusal !== null) {
      this.opts.logger.debug({ correlationId: id, origin: e.origin, refusal }, 'proposal not endorsed');
      return;
    }
    this.inProgress.add(id);
    try {
      if (this.opts.policy === 'agent' && !(await this.askAgent(e))) {
        this.opts.logger.info({ correlationId: id, origin: e.origin }, 'agent vetoed or abstained');
        return;
      }
      await this.endorse(e);
    } finally {
      this.inProgress.delete(id);
    }
  }

  private checkProposal(e: ProposeEnvelope): string | null {
    if (isExpired(e.createdAtMs, e.ttlMs, this.opts.clock.now())) return 'expired';
    if (!inCohort(e.origin, this.cohort)) return 'origin-not-in-cohort';
    if (!inCohort(this.self, this.cohort)) return 'self-not-in-cohort';
    if (checkSubject(e.subject, this.opts.limits.prefix, 'command') !== null) return 'subject-not-allowed';
    if (!proposeDigestMatches(e)) return 'digest-mismatch';
    const bytes = new TextEncoder().encode(JSON.stringify(e.payload)).length;
    if (bytes > this.opts.limits.maxPayloadBytes) return 'payload-too-large';
    return null;
  }

  /** Stores the intent as `proposed`, then gossips this node's signature over it. */
  private async endorse(e: ProposeEnvelope): Promise<void> {
    const t: Tracked = {
      correlationId: e.correlationId, subject: e.subject, payload: e.payload, payloadDigest: e.payloadDigest, origin: e.origin,
      createdAtMs: e.createdAtMs, ttlMs: e.ttlMs, traceparent: e.traceparent, endorsements: new Map(), quorumAtMs: null, lastProposedAtMs: 0,
    };
    const signature = encodeSignature(await this.opts.gossip.sign(endorsementBytes(t.correlationId, t.payloadDigest)));
    t.endorsements.set(this.self, signature);
    await this.opts.outbox.append([rowOf(t, 'proposed')]);
    if (this.opts.outbox.get(t.correlationId)?.state !== 'proposed') return; // settled meanwhile
    this.tracks.set(t.correlationId, t);
    this.endorseBatcher.add(itemOf(t, signature));
    this.opts.emit('intent:proposed', { correlationId: t.correlationId, state: 'proposed', subject: t.subject, origin: t.origin });
    const early = this.orphans.get(t.correlationId) ?? [];
    this.orphans.delete(t.correlationId);
    for (const o of early) this.addEndorsement(o.peerId, o.item);
    this.evaluate(t);
  }

  private onEndorse(e: EndorseEnvelope, from: string): void {
    for (const item of e.endorsements) this.addEndorsement(from, item);
  }

  private addEndorsement(peerId: string, item: EndorsementItem): void {
    if (!inCohort(peerId, this.cohort)) return;
    const t = this.find(item.correlationId);
    if (t === 'done') return;
    if (t === undefined) return this.keepOrphan(peerId, item);
    if (item.payloadDigest !== t.payloadDigest || t.endorsements.has(peerId)) return;
    t.endorsements.set(peerId, item.signature);
    this.opts.emit('intent:endorsed', { correlationId: t.correlationId, peerId, endorsements: t.endorsements.size, quorum: this.opts.quorum });
    this.evaluate(t);
  }

  private keepOrphan(peerId: string, item: EndorsementItem): void {
    const list = this.orphans.get(item.correlationId);
    if (list !== undefined) {
      if (list.length < 1_024) list.push({ peerId, item });
      return;
    }
    if (this.orphans.size >= ORPHAN_CAP) this.orphans.delete(this.orphans.keys().next().value!);
    this.orphans.set(item.correlationId, [{ peerId, item }]);
  }

  /** Records quorum when first held; promotes when this node's takeover slot has come. */
  private evaluate(t: Tracked): void {
    const now = this.opts.clock.now();
    const counting = [...t.endorsements.keys()].filter((p) => inCohort(p, this.cohort));
    if (t.quorumAtMs === null) {
      if (!hasQuorum(counting, this.opts.quorum, this.cohort) || isExpired(t.createdAtMs, t.ttlMs, now)) return;
      t.quorumAtMs = now;
    }
    const rank = committerRank(t.correlationId, counting, this.self);
    const complete = this.cohort.size > 0 && counting.length >= this.cohort.size;
    const settleMs = complete ? 0 : (this.opts.settleMs ?? 2 * (this.opts.batchDelayMs ?? 20));
    if (rank >= 0 && now >= takeoverAtMs(t.quorumAtMs, rank, this.opts.takeoverMs, settleMs)) this.promote(t, rank, now);
  }

  private promote(t: Tracked, rank: number, now: number): void {
    const endorsements = this.finalEndorsements(t);
    const row = rowOf(t, 'pending-commit', endorsements);
    const lookupFirst = rank > 0 || now - t.createdAtMs > (this.opts.lookupAfterMs ?? 30_000);
    const moved = this.opts.outbox.promote(t.correlationId, row.body, row.headers, now, lookupFirst ? 'in-flight' : 'pending-commit');
    this.finish(t.correlationId);
    if (!moved) return;
    this.opts.logger.debug({ correlationId: t.correlationId, rank, endorsers: endorsements.length }, 'intent promoted');
    this.opts.wakeCommitter();
  }

  /** Cohort endorsements held, sorted by peer ID: the set a promoted row carries. */
  private finalEndorsements(t: Tracked): Endorsement[] {
    return [...t.endorsements]
      .filter(([p]) => inCohort(p, this.cohort))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([peerId, signature]) => ({ peerId, signature }));
  }

  private onCommittedGossip(e: CommittedEnvelope): void {
    const settled: Array<{ correlationId: string } & StreamLocation> = [];
    const now = this.opts.clock.now();
    for (const c of e.commits) {
      const t = this.tracks.get(c.correlationId);
      this.finish(c.correlationId);
      const row = this.opts.outbox.get(c.correlationId);
      if (row === undefined || row.state === 'committed') continue;
      if (t !== undefined && row.state === 'proposed') {
        // Keep the endorsements we saw on our copy. In-flight, never pending-commit: the
        // committer would look it up before publishing, and it is marked committed just below.
        const final = rowOf(t, 'pending-commit', this.finalEndorsements(t));
        this.opts.outbox.promote(c.correlationId, final.body, final.headers, now, 'in-flight');
      }
      settled.push({ correlationId: c.correlationId, stream: c.stream, seq: c.seq });
    }
    if (settled.length === 0) return;
    this.opts.outbox.markCommitted(settled, now);
    for (const s of settled) {
      this.opts.emit('intent:committed', { correlationId: s.correlationId, state: 'committed', stream: s.stream, streamSeq: s.seq, committer: e.committer });
    }
  }

  private expire(expired: readonly Tracked[], now: number): void {
    if (expired.length === 0) return;
    this.opts.outbox.markTerminal(expired.map((t) => t.correlationId), 'expired', `no quorum of ${this.opts.quorum} within the ttl`, now);
    for (const t of expired) {
      this.finish(t.correlationId);
      this.opts.emit('intent:expired', { correlationId: t.correlationId, state: 'expired', endorsements: t.endorsements.size, quorum: this.opts.quorum });
    }
    this.opts.logger.info({ expired: expired.length }, 'intents expired without quorum');
  }

  private peersJoined(): boolean {
    const peers = this.opts.gossip.peers();
    const joined = peers.some((p) => !this.knownPeers.has(p));
    this.knownPeers = new Set(peers);
    return joined;
  }

  private drainReproposals(now: number): void {
    let budget = this.opts.reproposePerTick ?? 20;
    for (const id of this.reproposeQueue) {
      if (budget-- <= 0) break;
      this.reproposeQueue.delete(id);
      const t = this.tracks.get(id);
      if (t === undefined) continue;
      t.lastProposedAtMs = now;
      void this.propose(t);
      this.resendEndorsement(t);
    }
  }

  private async propose(t: Tracked): Promise<void> {
    await this.publish({
      schemaVersion: ENVELOPE_SCHEMA_VERSION, kind: 'intent.propose', correlationId: t.correlationId, subject: t.subject,
      payload: t.payload as ProposeEnvelope['payload'], payloadDigest: t.payloadDigest, origin: t.origin,
      createdAtMs: t.createdAtMs, ttlMs: t.ttlMs, traceparent: t.traceparent,
    }).catch((err: unknown) => this.opts.logger.debug({ err, correlationId: t.correlationId }, 'proposal not gossiped; will re-propose'));
  }

  private resendEndorsement(t: Tracked): void {
    const own = t.endorsements.get(this.self);
    if (own !== undefined) this.endorseBatcher.add(itemOf(t, own));
  }

  /** A peer re-proposes an intent settled here: tell it when we know the commit. */
  private answerDone(id: string): void {
    const row = this.opts.outbox.get(id);
    if (row?.state === 'committed' && row.stream !== null && row.streamSeq !== null) {
      this.commitBatcher.add({ correlationId: id, stream: row.stream, seq: row.streamSeq });
    }
  }

  private async askAgent(e: ProposeEnvelope): Promise<boolean> {
    const timer = new AbortController();
    const answered = new Promise<boolean>((resolve) => this.asks.set(e.correlationId, resolve));
    this.opts.emit('intent:endorsement-requested', {
      correlationId: e.correlationId, subject: e.subject, payload: e.payload, origin: e.origin, timeoutMs: this.opts.agentTimeoutMs,
    });
    const timeout = this.opts.clock.sleep(this.opts.agentTimeoutMs, timer.signal).then(() => false, () => false);
    try {
      return await Promise.race([answered, timeout]);
    } finally {
      timer.abort();
      this.asks.delete(e.correlationId);
    }
  }

  /** The tracked intent, 'done' when settled here, undefined when unknown. Loads `proposed` rows lazily. */
  private find(id: string): Tracked | 'done' | undefined {
    const t = this.tracks.get(id);
    if (t !== undefined) return t;
    if (this.finished.has(id)) return 'done';
    const row = this.opts.outbox.get(id);
    if (row === undefined) return undefined;
    const rebuilt = row.state === 'proposed' ? trackFromRow(row, this.opts.ttlMs) : undefined;
    if (rebuilt === undefined) {
      this.finish(id);
      return 'done';
    }
    this.tracks.set(id, rebuilt);
    return rebuilt;
  }

  private finish(id: string): void {
    this.tracks.delete(id);
    this.reproposeQueue.delete(id);
    if (this.finished.size >= FINISHED_CAP) this.finished.delete(this.finished.values().next().value!);
    this.finished.add(id);
  }

  private publish(envelope: Envelope): Promise<void> {
    return this.opts.gossip.publish(envelope);
  }
}

function itemOf(t: Tracked, signature: string): EndorsementItem {
  return { correlationId: t.correlationId, payloadDigest: t.payloadDigest, signature };
}

function rowOf(t: Tracked, state: 'proposed' | 'pending-commit', endorsements?: Endorsement[]): ReturnType<typeof buildCommandRow> {
  return buildCommandRow({
    correlationId: t.correlationId, subject: t.subject, payload: t.payload, origin: t.origin, traceparent: t.traceparent,
    createdAtMs: t.createdAtMs, payloadDigest: t.payloadDigest, state,
    endorsements: endorsements ?? [...t.endorsements].map(([peerId, signature]) => ({ peerId, signature })),
  });
}

/** Rebuilds what the driver tracks from a stored `proposed` row (after a restart). */
function trackFromRow(row: OutboxRow, ttlMs: number): Tracked | undefined {
  let body: CommandBody;
  try {
    body = JSON.parse(decoder.decode(row.body)) as CommandBody;
  } catch {
    return undefined;
  }
  const traceparent = row.headers['traceparent'];
  if (body.payloadDigest === undefined || traceparent === undefined) return undefined;
  return {
    correlationId: row.correlationId, subject: row.subject, payload: body.payload, payloadDigest: body.payloadDigest,
    origin: body.origin, createdAtMs: row.createdAtMs, ttlMs: Math.min(ttlMs, MAX_TTL_MS), traceparent,
    endorsements: new Map((body.endorsements ?? []).map((e) => [e.peerId, e.signature])),
    quorumAtMs: null, lastProposedAtMs: 0,
  };
}
