/**
 * Endorsement collection and quorum: records cohort endorsements (keeping early ones until their
 * proposal arrives), notes when an intent first holds a quorum, and promotes it to the commit
 * path when this node's takeover slot comes: rank 0 after `settleMs`, rank k after another
 * k × the takeover step (`takeoverMs`, longer while peers' commits are seen late) unless an
 * `intent.committed` settled it first.
 */
import { CommitDelayEstimate } from '../core/commit-delay.js';
import type { Endorsement } from '../core/command-message.js';
import { committerRank, isExpired, takeoverAtMs } from '../core/consensus.js';
import { decodeSignature, type EndorsementItem, endorsementBytes } from '../core/envelope.js';
import { endorsesIn } from '../core/membership.js';
import type { EndorsingShard, PromoteItem } from '../core/ports.js';
import { intentHop } from '../observability/intent-hops.js';
import type { ConsensusContext } from './consensus-context.js';
import { rowOf, type TrackedIntent } from './intent-book.js';

/** Collects endorsements and promotes intents whose quorum and slot have come. */
export class EndorsementQuorum {
  private pending: Array<{ t: TrackedIntent; rank: number; target: PromoteItem['target'] }> = [];
  private readonly queued = new Set<string>();
  /** Endorsers whose signature was checked, per intent awaiting promotion. */
  private readonly verified = new Map<string, Set<string>>();
  /** Quorum → peer's commit seen here: the takeover step grows with it (core/commit-delay.ts). */
  private readonly delays: CommitDelayEstimate;
  /** Intents with a timer armed for this node's rank-0 slot (the settle wait). */
  private readonly slotArmed = new Set<string>();
  private stopped = false;

  constructor(private readonly ctx: ConsensusContext) {
    this.delays = new CommitDelayEstimate({ takeoverMs: ctx.opts.takeoverMs });
  }

  /**
   * A peer's commit of `t` was seen here now: one sample of the commit delay after quorum. Every
   * commit counts, a taker's too: under load most commits are late, and sampling only first-ranked
   * ones left the step short once takeovers had become the rule (bench:consensus, docs/consensus-cpu.md).
   */
  observeCommit(t: TrackedIntent, now: number): void {
    if (t.quorumAtMs !== null) this.delays.observe(now - t.quorumAtMs);
  }

  /**
   * Records `peerId`'s endorsement (its author already checked by the mesh validator). It counts
   * only when `peerId` is in the intent's shard: its proposer's home shard, or the cohort.
   */
  add(peerId: string, item: EndorsementItem): void {
    const { book, opts } = this.ctx;
    const t = book.find(item.correlationId);
    if (t === 'done') return;
    if (t === undefined) {
      // Kept until the proposal says whose intent it is; the validator let only members through.
      book.keepOrphan(peerId, item);
      return;
    }
    const shard = this.shardOf(t);
    if (shard === undefined || !endorsesIn(shard, peerId)) return;
    if (item.payloadDigest !== t.payloadDigest || t.endorsements.has(peerId)) return;
    // An event's endorsement counts only with its DSSE signature: the envelope must carry the quorum's.
    if (t.federation !== undefined) {
      if (item.dsse === undefined) return;
      t.federation.dsse.set(peerId, item.dsse);
    }
    t.endorsements.set(peerId, item.signature);
    intentHop(t.correlationId, 'endorsement-in');
    opts.emit('intent:endorsed', {
      correlationId: t.correlationId,
      peerId,
      endorsements: t.endorsements.size,
      quorum: shard.quorum,
    });
    this.evaluate(t);
  }

  /** The shard that endorses `t` now: its proposer's home shard (or the cohort); undefined for a non-member's. */
  shardOf(t: TrackedIntent): EndorsingShard | undefined {
    return this.ctx.membership.shardOf(t.origin);
  }

  /** Endorsers of `t` that count: those in its shard. */
  private counting(t: TrackedIntent, shard: EndorsingShard): string[] {
    return [...t.endorsements.keys()].filter((p) => endorsesIn(shard, p));
  }

  /** Applies the endorsements that arrived before `t` was tracked here, then evaluates it. */
  adoptOrphans(t: TrackedIntent): void {
    for (const o of this.ctx.book.takeOrphans(t.correlationId)) this.add(o.peerId, o.item);
    this.evaluate(t);
  }

  /** Records quorum when first held; promotes when this node's takeover slot has come. */
  evaluate(t: TrackedIntent): void {
    const { opts, self } = this.ctx;
    const now = opts.clock.now();
    const shard = this.shardOf(t);
    const counting = shard === undefined ? [] : this.counting(t, shard);
    if (shard === undefined || counting.length < shard.quorum) {
      // Also after a re-plan that moved endorsers out of the intent's shard: no slot without quorum.
      t.quorumAtMs = null;
      return;
    }
    if (t.quorumAtMs === null) {
      if (isExpired(t.createdAtMs, t.ttlMs, now)) return;
      t.quorumAtMs = now;
      intentHop(t.correlationId, 'quorum');
    }
    const key = counting.join(' ');
    if (t.rankMemo?.key !== key) t.rankMemo = { key, rank: committerRank(t.correlationId, counting, self) };
    const rank = t.rankMemo.rank;
    const complete = shard.members.size > 0 && counting.length >= shard.members.size;
    const settleMs = complete ? 0 : this.settleMs(t);
    if (rank < 0) return;
    const slotAtMs = takeoverAtMs(t.quorumAtMs, rank, this.delays.stepMs(), settleMs);
    if (now >= slotAtMs) this.promote(t, rank, now);
    // Rank 0's settle wait is short (two batch delays): wake for it, not at the next tick, which
    // added up to one `tickMs` (100 ms) to every commit whose endorsements were not all in.
    else if (rank === 0) this.armSlot(t, slotAtMs - now);
  }

  /** Slot timers that fire from now on do nothing (the driver stops; each is ≤ a settle wait). */
  stop(): void {
    this.stopped = true;
  }

  private armSlot(t: TrackedIntent, waitMs: number): void {
    const id = t.correlationId;
    if (this.slotArmed.has(id) || this.stopped) return;
    this.slotArmed.add(id);
    this.ctx.opts.clock.sleep(waitMs).then(
      () => {
        this.slotArmed.delete(id);
        if (!this.stopped && this.ctx.book.tracked(id) === t && t.quorumAtMs !== null) this.evaluate(t);
      },
      () => this.slotArmed.delete(id),
    );
  }

  /**
   * How long rank 0 waits, once quorum is held with an incomplete set, for the endorsements still
   * in flight, so that every node ranks the same set. A command's: two gossip batches. A federation
   * event's: a takeover step. Under load an endorsement can arrive seconds late; a node that ranked
   * a smaller set may find itself rank 0 beside another rank 0, both look the event up before
   * either copy is stored, and a `FEDERATION` stream with a short duplicate window keeps both
   * (a command's stream keeps 2 minutes and drops the second). An event with every member's
   * endorsement is promoted at once, as before.
   */
  private settleMs(t: TrackedIntent): number {
    const { opts } = this.ctx;
    const batches = opts.settleMs ?? 2 * (opts.batchDelayMs ?? 20);
    return t.federation === undefined ? batches : Math.max(batches, this.delays.stepMs());
  }

  /** Endorsements held from the intent's shard, sorted by peer ID: the set a promoted row carries. */
  finalEndorsements(t: TrackedIntent): Endorsement[] {
    const shard = this.shardOf(t);
    if (shard === undefined) return [];
    return [...t.endorsements]
      .filter(([p]) => endorsesIn(shard, p))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([peerId, signature]) => ({ peerId, signature }));
  }

  // Promotions wait for the end of the current turn (an envelope's items, a tick) and are
  // written in one transaction: one fsync per gossip batch instead of one per intent.
  private promote(t: TrackedIntent, rank: number, now: number): void {
    if (this.queued.has(t.correlationId)) return;
    this.queued.add(t.correlationId);
    intentHop(t.correlationId, 'promote-queued');
    // A federation event is always looked up first: its stream may keep a 1 s duplicate window
    // (docs/federation.md), shorter than a slow rank 0's publish after a takeover's.
    const lookupFirst =
      rank > 0 || t.federation !== undefined || now - t.createdAtMs > (this.ctx.opts.lookupAfterMs ?? 30_000);
    this.pending.push({ t, rank, target: lookupFirst ? 'in-flight' : 'pending-commit' });
    if (this.pending.length === 1) queueMicrotask(() => void this.flush());
  }

  /**
   * Writes the queued promotions (one transaction) and wakes the committer. Each endorsement a
   * promoted row carries is verified here, once: only the node that commits needs to, since
   * gossipsub's signed messages already prove who sent each endorsement (docs/consensus.md).
   * A bad one is dropped and the intent waits for a quorum of good ones.
   */
  async flush(): Promise<void> {
    const { opts, book } = this.ctx;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const items: PromoteItem[] = [];
    const promoted: typeof batch = [];
    for (const p of batch) {
      const bad = await this.unverified(p.t);
      this.queued.delete(p.t.correlationId);
      if (bad.length > 0) {
        for (const peer of bad) {
          p.t.endorsements.delete(peer);
          p.t.federation?.dsse.delete(peer);
        }
        // The takeover clock keeps running while the good ones are still a quorum.
        const shard = this.shardOf(p.t);
        if (shard === undefined || this.counting(p.t, shard).length < shard.quorum) p.t.quorumAtMs = null;
        opts.metrics?.badEndorsements?.inc(bad.length);
        opts.logger.warn(
          { correlationId: p.t.correlationId, peers: bad },
          'endorsement signature did not verify; dropped',
        );
        continue;
      }
      const row = rowOf(p.t, 'pending-commit', this.finalEndorsements(p.t), this.shardOf(p.t)?.name);
      items.push({ correlationId: p.t.correlationId, body: row.body, headers: row.headers, target: p.target });
      promoted.push(p);
      book.finish(p.t.correlationId);
      this.verified.delete(p.t.correlationId);
    }
    if (items.length === 0) return;
    let moved: Set<string>;
    try {
      // Not fsync'd here: nothing leaves this node on the strength of the promotion alone. A
      // `pending-commit` row is claimed (an fsync'd transaction, which makes this one durable
      // too: one WAL) before it is published; an `in-flight` one is looked up first. Lost to a
      // power cut, the row is `proposed` again, as if the node had died just before promoting.
      moved = new Set(opts.outbox.promoteMany(items, opts.clock.now(), { durable: false }));
    } catch (err) {
      // Never thrown into the void (callers do not await): the rows stay `proposed` on disk and
      // a restart reloads them; readiness reports the outbox error meanwhile.
      opts.logger.error({ err, intents: items.length }, 'promotion not stored');
      return;
    }
    for (const p of promoted) {
      if (!moved.has(p.t.correlationId)) continue;
      intentHop(p.t.correlationId, 'promoted');
      if (p.rank > 0) opts.metrics?.takeovers.inc();
      opts.logger.debug({ correlationId: p.t.correlationId, rank: p.rank }, 'intent promoted');
    }
    if (moved.size > 0) opts.wakeCommitter();
  }

  // Peers whose endorsement of `t` fails its signature check (each checked once per intent).
  private async unverified(t: TrackedIntent): Promise<string[]> {
    const { opts } = this.ctx;
    const shard = this.shardOf(t);
    let done = this.verified.get(t.correlationId);
    if (done === undefined) {
      if (this.verified.size >= 10_000) this.verified.clear(); // intents that expired unpromoted
      done = new Set();
      this.verified.set(t.correlationId, done);
    }
    const bytes = endorsementBytes(t.correlationId, t.payloadDigest);
    const bad: string[] = [];
    for (const [peer, signature] of t.endorsements) {
      if (done.has(peer) || shard === undefined || !endorsesIn(shard, peer)) continue;
      const sig = decodeSignature(signature);
      if (sig !== null) opts.metrics?.signatureChecks?.inc();
      if (sig !== null && (await opts.gossip.verify(peer, bytes, sig)) && (await this.dsseHolds(t, peer)))
        done.add(peer);
      else bad.push(peer);
    }
    return bad;
  }

  // An event's endorser's DSSE signature: by a key of `federation.signers`, over the event's PAE.
  private async dsseHolds(t: TrackedIntent, peer: string): Promise<boolean> {
    if (t.federation === undefined) return true;
    const sig = t.federation.dsse.get(peer);
    const check = this.ctx.opts.federation;
    return sig !== undefined && check !== undefined && (await check.verify(sig, t.payload as string));
  }
}
