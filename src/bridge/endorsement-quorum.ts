/**
 * Endorsement collection and quorum: records cohort endorsements (keeping early ones until their
 * proposal arrives), notes when an intent first holds a quorum, and promotes it to the commit
 * path when this node's takeover slot comes: rank 0 after `settleMs`, rank k after another
 * k × `takeoverMs` unless an `intent.committed` settled it first.
 */
import type { Endorsement } from '../core/command-message.js';
import { committerRank, hasQuorum, inCohort, isExpired, takeoverAtMs } from '../core/consensus.js';
import type { EndorsementItem } from '../core/envelope.js';
import type { ConsensusContext } from './consensus-context.js';
import { rowOf, type TrackedIntent } from './intent-book.js';

/** Collects endorsements and promotes intents whose quorum and slot have come. */
export class EndorsementQuorum {
  constructor(private readonly ctx: ConsensusContext) {}

  /** Records `peerId`'s endorsement (already verified by the mesh validator). */
  add(peerId: string, item: EndorsementItem): void {
    const { book, opts } = this.ctx;
    if (!inCohort(peerId, this.ctx.cohort)) return;
    const t = book.find(item.correlationId);
    if (t === 'done') return;
    if (t === undefined) {
      book.keepOrphan(peerId, item);
      return;
    }
    if (item.payloadDigest !== t.payloadDigest || t.endorsements.has(peerId)) return;
    t.endorsements.set(peerId, item.signature);
    opts.emit('intent:endorsed', {
      correlationId: t.correlationId,
      peerId,
      endorsements: t.endorsements.size,
      quorum: opts.quorum,
    });
    this.evaluate(t);
  }

  /** Applies the endorsements that arrived before `t` was tracked here, then evaluates it. */
  adoptOrphans(t: TrackedIntent): void {
    for (const o of this.ctx.book.takeOrphans(t.correlationId)) this.add(o.peerId, o.item);
    this.evaluate(t);
  }

  /** Records quorum when first held; promotes when this node's takeover slot has come. */
  evaluate(t: TrackedIntent): void {
    const { opts, cohort, self } = this.ctx;
    const now = opts.clock.now();
    const counting = [...t.endorsements.keys()].filter((p) => inCohort(p, cohort));
    if (t.quorumAtMs === null) {
      if (!hasQuorum(counting, opts.quorum, cohort) || isExpired(t.createdAtMs, t.ttlMs, now)) return;
      t.quorumAtMs = now;
    }
    const rank = committerRank(t.correlationId, counting, self);
    const complete = cohort.size > 0 && counting.length >= cohort.size;
    const settleMs = complete ? 0 : (opts.settleMs ?? 2 * (opts.batchDelayMs ?? 20));
    if (rank >= 0 && now >= takeoverAtMs(t.quorumAtMs, rank, opts.takeoverMs, settleMs)) this.promote(t, rank, now);
  }

  /** Cohort endorsements held, sorted by peer ID: the set a promoted row carries. */
  finalEndorsements(t: TrackedIntent): Endorsement[] {
    return [...t.endorsements]
      .filter(([p]) => inCohort(p, this.ctx.cohort))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([peerId, signature]) => ({ peerId, signature }));
  }

  private promote(t: TrackedIntent, rank: number, now: number): void {
    const { opts, book } = this.ctx;
    const endorsements = this.finalEndorsements(t);
    const row = rowOf(t, 'pending-commit', endorsements);
    const lookupFirst = rank > 0 || now - t.createdAtMs > (opts.lookupAfterMs ?? 30_000);
    const moved = opts.outbox.promote(
      t.correlationId,
      row.body,
      row.headers,
      now,
      lookupFirst ? 'in-flight' : 'pending-commit',
    );
    book.finish(t.correlationId);
    if (!moved) return;
    if (rank > 0) opts.metrics?.takeovers.inc();
    opts.logger.debug({ correlationId: t.correlationId, rank, endorsers: endorsements.length }, 'intent promoted');
    opts.wakeCommitter();
  }
}
