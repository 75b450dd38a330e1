/**
 * The consensus driver: propose, endorse, commit once. It sees ports only (Outbox, Gossip,
 * Clock) plus two hooks (wake the committer, emit an agent-facing event); the rules it applies
 * are the pure functions of `core/consensus.ts`. This file is the facade and the scheduler; the
 * work is done by `ProposalIntake` (local and peers' proposals, re-proposals),
 * `EndorsementQuorum` (endorsements, quorum, promotion) and `CommitSettlement` (commits and
 * expiry), over the shared `IntentBook`.
 *
 * Flow per intent: the proposer stores it as `proposed` (durable before the 202), then gossips
 * `intent.propose` and its own endorsement, both batched. Every endorser validates it, stores
 * it as `proposed`, then gossips its signature (batched). Whoever holds a quorum ranks the
 * endorsers by hash(correlationId ‖ peerId): rank 0 promotes its row to `pending-commit` at
 * once, rank k after k × takeoverMs unless an `intent.committed` arrived. PubAcks are gossiped
 * (batched) as `intent.committed`, and every peer marks its copy committed. No quorum by the
 * TTL → `expired`.
 *
 * Trust: the Gossip port delivers only envelopes that passed the mesh validator, which checks
 * the author, every proposal digest and every endorsement signature; the driver re-checks what
 * is cheap (cohort, digest, subject, TTL).
 */
import type { Endorsement } from '../core/command-message.js';
import { isExpired } from '../core/consensus.js';
import { cohortMembership } from '../core/membership.js';
import {
  DEFAULT_MAX_ENVELOPE_BYTES,
  ENVELOPE_SCHEMA_VERSION,
  type CommitItem,
  type EndorsementItem,
  type Envelope,
  type ProposeItem,
} from '../core/envelope.js';
import type { IntentState, StreamLocation } from '../core/intent.js';
import type { BatchAnswer } from '../core/intent-batch.js';
import { CommitSettlement } from './commit-settlement.js';
import type { ConsensusContext, ConsensusDriverOptions } from './consensus-context.js';
import { EndorsementQuorum } from './endorsement-quorum.js';
import { GossipBatcher } from './gossip-batcher.js';
import { IntentBook, type TrackedIntent } from './intent-book.js';
import { PeriodicTask } from '../runtime/periodic-task.js';
import { type LocalEvent, ProposalIntake } from './proposal-intake.js';

export type { ConsensusDriverOptions, ConsensusEvent } from './consensus-context.js';

// Room for the propose envelope's own fields (kind, origin, brackets) and a comma per item.
const PROPOSE_ENVELOPE_OVERHEAD_BYTES = 1_024;
const encoder = new TextEncoder();

/** Drives propose/endorse/commit for one node. start() once, stop() to flush and detach. */
export class ConsensusDriver {
  private readonly ctx: ConsensusContext;
  private readonly intake: ProposalIntake;
  private readonly quorum: EndorsementQuorum;
  private readonly settlement: CommitSettlement;
  private knownPeers = new Set<string>();
  private readonly task: PeriodicTask;
  private unsubscribe: (() => void) | null = null;

  constructor(opts: ConsensusDriverOptions) {
    const self = opts.gossip.peerId;
    const batch = { clock: opts.clock, delayMs: opts.batchDelayMs ?? 20, maxItems: opts.batchMaxItems ?? 256 };
    const onError = (what: string) => (err: unknown, items: number) =>
      opts.logger.debug({ err, items }, `${what} batch not sent; re-proposals recover it`);
    const publish = (envelope: Envelope) => opts.gossip.publish(envelope);
    this.ctx = {
      opts,
      self,
      membership: opts.membership ?? cohortMembership(opts.cohort ?? [], opts.quorum ?? 1),
      book: new IntentBook(opts.outbox, opts.ttlMs),
      proposals: new GossipBatcher<ProposeItem>({
        ...batch,
        // Proposals carry payloads (up to the API's limit each): cut batches by size too.
        sizeOf: (item) => encoder.encode(JSON.stringify(item)).length + 1,
        maxBytes: (opts.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES) - PROPOSE_ENVELOPE_OVERHEAD_BYTES,
        // Sent at once when the mesh was quiet: a lone intent does not wait for a batch.
        leading: true,
        send: (intents) =>
          publish({ schemaVersion: ENVELOPE_SCHEMA_VERSION, kind: 'intent.propose', origin: self, intents }),
        onError: onError('propose'),
      }),
      endorsements: new GossipBatcher<EndorsementItem>({
        ...batch,
        send: (endorsements) =>
          publish({ schemaVersion: ENVELOPE_SCHEMA_VERSION, kind: 'intent.endorse', endorser: self, endorsements }),
        onError: onError('endorse'),
      }),
      commits: new GossipBatcher<CommitItem>({
        ...batch,
        send: (commits) =>
          publish({ schemaVersion: ENVELOPE_SCHEMA_VERSION, kind: 'intent.committed', committer: self, commits }),
        onError: onError('committed'),
      }),
    };
    this.quorum = new EndorsementQuorum(this.ctx);
    this.settlement = new CommitSettlement(this.ctx, this.quorum);
    this.intake = new ProposalIntake(this.ctx, this.quorum, this.settlement);
    this.task = new PeriodicTask({
      clock: opts.clock,
      logger: opts.logger,
      periodMs: opts.tickMs ?? 100,
      runAtStart: true,
      failureMessage: 'consensus tick failed',
      round: async () => this.tick(),
    });
  }

  /** Reloads `proposed` rows from the outbox, subscribes to gossip and starts the scheduling loop. */
  start(): void {
    if (this.task.running) return;
    const { opts, self, book } = this.ctx;
    for (const t of book.reload()) if (t.origin === self) this.intake.queueReproposal(t.correlationId);
    this.unsubscribe = opts.gossip.onEnvelope((e, from) => this.receive(e, from));
    this.task.start();
    const home = this.ctx.membership.shardOf(self);
    opts.logger.info(
      {
        proposed: book.size,
        shard: home?.name,
        quorum: home?.quorum,
        members: home?.members.size,
        policy: opts.policy,
      },
      'consensus started',
    );
  }

  /** Stops the loop, answers pending agent asks as abstentions, sends queued batches. Safe twice. */
  async stop(): Promise<void> {
    if (!this.task.running) return;
    await this.task.stop();
    this.unsubscribe?.();
    this.quorum.stop();
    await this.quorum.flush();
    this.intake.abstainAll();
    const { proposals, endorsements, commits } = this.ctx;
    await Promise.all([proposals.stop(), endorsements.stop(), commits.stop()]);
  }

  /**
   * Accepts a local intent: validates it (INPUT_INVALID naming the field), signs its
   * endorsement, stores it as `proposed` and resolves once that row is durable. The proposal is
   * gossiped in a batch, without holding up the caller.
   */
  accept(
    body: unknown,
    traceparent?: string,
    idempotencyKey?: string,
  ): Promise<{ correlationId: string; state: IntentState }> {
    return this.intake.accept(body, traceparent, idempotencyKey);
  }

  /** The batch form of {@link accept} (docs/contracts.md#batches): one transaction, one result per item. */
  acceptBatch(body: readonly unknown[], traceparent?: string): Promise<BatchAnswer> {
    return this.intake.acceptBatch(body, traceparent);
  }

  /**
   * Accepts a federation event of the local agent, its payload text fixed by the federation
   * intake (docs/federation.md): like {@link accept}, resolves with its state once durable.
   */
  acceptEvent(e: LocalEvent): Promise<IntentState> {
    return this.intake.acceptEvent(e);
  }

  /** The committer's hook: rows it published (PubAck) are announced as `intent.committed`. */
  onCommitted(entries: ReadonlyArray<{ correlationId: string } & StreamLocation>): void {
    this.settlement.announce(entries);
  }

  /** Endorsements held for a `proposed` intent (more than its stored row shows), or undefined. */
  endorsementsOf(correlationId: string): Endorsement[] | undefined {
    const t = this.ctx.book.tracked(correlationId);
    return t === undefined ? undefined : [...t.endorsements].map(([peerId, signature]) => ({ peerId, signature }));
  }

  /** The agent's answer under `agent` policy. False when nothing is being asked about that ID. */
  answerEndorsement(correlationId: string, endorse: boolean): boolean {
    return this.intake.answerEndorsement(correlationId, endorse);
  }

  /**
   * The member list was reloaded (docs/fleet.md): an open intent follows its proposer's home shard
   * as now planned, so own intents are re-proposed there at once, and quorums are checked again
   * against the new shards.
   */
  replanned(): void {
    const { self, book } = this.ctx;
    for (const t of book.all()) {
      if (t.origin === self) this.intake.queueReproposal(t.correlationId);
      this.quorum.evaluate(t);
    }
  }

  /** Counts for `status`. */
  snapshot(): { proposed: number; awaitingTakeover: number } {
    const tracked = this.ctx.book.all();
    return { proposed: tracked.length, awaitingTakeover: tracked.filter((t) => t.quorumAtMs !== null).length };
  }

  /**
   * One scheduling round: takeovers whose slot came, expiry of intents past their TTL without
   * quorum, re-proposals (after a peer joined, or every `reproposeMs`). The loop runs it every
   * `tickMs`; tests call it directly.
   */
  tick(): void {
    const { opts, self, book } = this.ctx;
    const now = opts.clock.now();
    const expired: TrackedIntent[] = [];
    const reproposeMs = opts.reproposeMs ?? 5_000;
    const joined = this.peersJoined();
    for (const t of book.all()) {
      if (t.quorumAtMs !== null) this.quorum.evaluate(t);
      else if (isExpired(t.createdAtMs, t.ttlMs, now)) expired.push(t);
      else if (t.origin === self && (joined || now - t.lastProposedAtMs >= reproposeMs))
        this.intake.queueReproposal(t.correlationId);
    }
    this.settlement.expire(expired, now);
    this.intake.drainReproposals(now);
    void this.quorum.flush();
  }

  private receive(envelope: Envelope, from: string): void {
    switch (envelope.kind) {
      case 'intent.propose':
        for (const item of envelope.intents) {
          this.intake
            .onPropose(item, envelope.origin)
            .catch((err: unknown) =>
              this.ctx.opts.logger.warn({ err, correlationId: item.correlationId }, 'proposal handling failed'),
            );
        }
        return;
      case 'intent.endorse':
        for (const item of envelope.endorsements) this.quorum.add(from, item);
        void this.quorum.flush();
        return;
      case 'intent.committed':
        this.settlement.onCommittedGossip(envelope);
        return;
      default:
        return; // heartbeats and telemetry are other parts' business
    }
  }

  private peersJoined(): boolean {
    const peers = this.ctx.opts.gossip.peers();
    const joined = peers.some((p) => !this.knownPeers.has(p));
    this.knownPeers = new Set(peers);
    return joined;
  }
}
