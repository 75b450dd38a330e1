/**
 * How intents end here: commits this node published are announced (batched
 * `intent.committed`), commits announced by peers mark this node's copy committed, and intents
 * past their TTL without quorum become `expired`, visibly to the agent.
 */
import type { CommittedEnvelope } from '../core/envelope.js';
import type { StreamLocation } from '../core/intent.js';
import type { ConsensusContext } from './consensus-context.js';
import type { EndorsementQuorum } from './endorsement-quorum.js';
import { rowOf, type TrackedIntent } from './intent-book.js';

/** Settles intents: committed (here or elsewhere) or expired. */
export class CommitSettlement {
  constructor(private readonly ctx: ConsensusContext, private readonly quorum: EndorsementQuorum) {}

  /** Rows this node's committer published (PubAck): announce them as `intent.committed`. */
  announce(entries: ReadonlyArray<{ correlationId: string } & StreamLocation>): void {
    const { opts, book, commits } = this.ctx;
    for (const e of entries) {
      if (opts.outbox.get(e.correlationId)?.kind !== 'command') continue;
      book.finish(e.correlationId);
      opts.metrics?.intents.inc({ outcome: 'committed' });
      commits.add({ correlationId: e.correlationId, stream: e.stream, seq: e.seq });
    }
  }

  /** A peer re-proposes an intent settled here: tell it when we know the commit. */
  answerDone(id: string): void {
    const row = this.ctx.opts.outbox.get(id);
    if (row?.state === 'committed' && row.stream !== null && row.streamSeq !== null) {
      this.ctx.commits.add({ correlationId: id, stream: row.stream, seq: row.streamSeq });
    }
  }

  /** A peer's `intent.committed`: every copy held here that is not committed yet becomes committed. */
  onCommittedGossip(e: CommittedEnvelope): void {
    const { opts, book } = this.ctx;
    const settled: Array<{ correlationId: string } & StreamLocation> = [];
    const now = opts.clock.now();
    for (const c of e.commits) {
      const t = book.tracked(c.correlationId);
      book.finish(c.correlationId);
      const row = opts.outbox.get(c.correlationId);
      if (row === undefined || row.state === 'committed') continue;
      if (t !== undefined && row.state === 'proposed') {
        // Keep the endorsements we saw on our copy. In-flight, never pending-commit: the
        // committer would look it up before publishing, and it is marked committed just below.
        const final = rowOf(t, 'pending-commit', this.quorum.finalEndorsements(t));
        opts.outbox.promote(c.correlationId, final.body, final.headers, now, 'in-flight');
      }
      settled.push({ correlationId: c.correlationId, stream: c.stream, seq: c.seq });
    }
    if (settled.length === 0) return;
    opts.outbox.markCommitted(settled, now);
    opts.metrics?.intents.inc({ outcome: 'committed' }, settled.length);
    for (const s of settled) {
      opts.emit('intent:committed', { correlationId: s.correlationId, state: 'committed', stream: s.stream, streamSeq: s.seq, committer: e.committer });
    }
  }

  /** Marks intents past their TTL without quorum `expired` and tells the agent. */
  expire(expired: readonly TrackedIntent[], now: number): void {
    if (expired.length === 0) return;
    const { opts, book } = this.ctx;
    opts.outbox.markTerminal(expired.map((t) => t.correlationId), 'expired', `no quorum of ${opts.quorum} within the ttl`, now);
    for (const t of expired) {
      book.finish(t.correlationId);
      opts.emit('intent:expired', { correlationId: t.correlationId, state: 'expired', endorsements: t.endorsements.size, quorum: opts.quorum });
    }
    opts.metrics?.intents.inc({ outcome: 'expired' }, expired.length);
    opts.logger.info({ expired: expired.length }, 'intents expired without quorum');
  }
}
