/**
 * How intents end here: commits this node published are announced (batched
 * `intent.committed`), commits announced by peers mark this node's copy committed, and intents
 * past their TTL without quorum become `expired`, visibly to the agent.
 */
import { isDeadLetterId } from '../core/dead-letter.js';
import type { CommittedEnvelope } from '../core/envelope.js';
import type { OutboxRow, StreamLocation } from '../core/intent.js';
import { locateRows } from '../core/locate-rows.js';
import type { PromoteItem, StreamReader } from '../core/ports.js';
import type { ConsensusContext } from './consensus-context.js';
import type { EndorsementQuorum } from './endorsement-quorum.js';
import { rowOf, type TrackedIntent } from './intent-book.js';

/** Settles intents: committed (here or elsewhere) or expired. */
export class CommitSettlement {
  private looking = false;
  private nextLookAtMs = 0;

  constructor(
    private readonly ctx: ConsensusContext,
    private readonly quorum: EndorsementQuorum,
  ) {}

  /**
   * Rows this node's committer published (PubAck): announce them as `intent.committed`. Only
   * intents: a dead-letter notice is this node's own (and its ID, not a ULID, would fail the
   * envelope, and every commit batched with it).
   */
  announce(entries: ReadonlyArray<{ correlationId: string } & StreamLocation>): void {
    const { opts, book, commits } = this.ctx;
    for (const e of entries) {
      if (isDeadLetterId(e.correlationId) || opts.outbox.get(e.correlationId)?.kind !== 'command') continue;
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
    this.settle(e.commits, e.committer);
  }

  // Every copy held here that is not committed yet becomes committed at `commits`' locations.
  // Not fsync'd when every copy falls back to a durable `proposed` or `in-flight` row (looked up
  // in the stream before any resend); a `pending-commit` copy would be published again, so then it is.
  private settle(commits: ReadonlyArray<{ correlationId: string } & StreamLocation>, committer: string): void {
    const { opts, book } = this.ctx;
    const settled: Array<{ correlationId: string } & StreamLocation> = [];
    const promotions: PromoteItem[] = [];
    let durable = false;
    const now = opts.clock.now();
    for (const c of commits) {
      const t = book.tracked(c.correlationId);
      if (t !== undefined && committer !== 'stream') this.quorum.observeCommit(t, now);
      book.finish(c.correlationId);
      const row = opts.outbox.get(c.correlationId);
      if (row === undefined || row.state === 'committed') continue;
      if (t !== undefined && row.state === 'proposed') {
        // Keep the endorsements we saw on our copy.
        const final = rowOf(t, 'pending-commit', this.quorum.finalEndorsements(t), this.quorum.shardOf(t)?.name);
        promotions.push({
          correlationId: c.correlationId,
          body: final.body,
          headers: final.headers,
          target: 'in-flight',
        });
      }
      if (row.state === 'pending-commit') durable = true;
      settled.push({ correlationId: c.correlationId, stream: c.stream, seq: c.seq });
    }
    if (settled.length === 0) return;
    opts.outbox.promoteMany(promotions, now, { durable: false });
    opts.outbox.markCommitted(settled, now, { durable });
    opts.metrics?.intents.inc({ outcome: 'committed' }, settled.length);
    for (const s of settled) {
      opts.emit('intent:committed', {
        correlationId: s.correlationId,
        state: 'committed',
        stream: s.stream,
        streamSeq: s.seq,
        committer,
      });
    }
  }

  /**
   * Intents past their TTL without quorum seen here. With a stream reader, they are looked up
   * first (one lookup at a time): committed elsewhere → committed here; absent → `expired`;
   * lookup failed (NATS away) → kept `proposed` and retried after 5 s, never guessed.
   */
  expire(expired: readonly TrackedIntent[], now: number): void {
    if (expired.length === 0) return;
    const reader = this.ctx.opts.reader;
    if (reader === undefined) {
      this.markExpired(expired, now);
      return;
    }
    if (this.looking || now < this.nextLookAtMs) return;
    this.looking = true;
    void this.lookThenExpire(reader, expired).finally(() => (this.looking = false));
  }

  private async lookThenExpire(reader: StreamReader, expired: readonly TrackedIntent[]): Promise<void> {
    const { opts } = this.ctx;
    const rows = expired
      .map((t) => opts.outbox.get(t.correlationId))
      .filter((r): r is OutboxRow => r !== undefined && r.state === 'proposed');
    let found: Map<string, StreamLocation>;
    try {
      found = await locateRows(reader, rows, opts.scanSkewMs ?? 5_000);
    } catch (err) {
      this.nextLookAtMs = opts.clock.now() + 5_000;
      opts.logger.warn({ err, intents: rows.length }, 'expiry deferred: the stream could not be read');
      return;
    }
    this.settle(
      [...found].map(([correlationId, loc]) => ({ correlationId, ...loc })),
      'stream',
    );
    this.markExpired(
      expired.filter((t) => !found.has(t.correlationId)),
      opts.clock.now(),
    );
  }

  private markExpired(expired: readonly TrackedIntent[], now: number): void {
    if (expired.length === 0) return;
    const { opts, book } = this.ctx;
    // One reason per quorum: intents of this node's shard share it, so usually one write.
    const byQuorum = new Map<number | undefined, string[]>();
    for (const t of expired) {
      const quorum = this.quorum.shardOf(t)?.quorum;
      byQuorum.set(quorum, [...(byQuorum.get(quorum) ?? []), t.correlationId]);
    }
    for (const [quorum, ids] of byQuorum) {
      const why = quorum === undefined ? 'its proposer is not a member' : `no quorum of ${quorum} within the ttl`;
      opts.outbox.markTerminal(ids, 'expired', why, now);
    }
    for (const t of expired) {
      book.finish(t.correlationId);
      opts.emit('intent:expired', {
        correlationId: t.correlationId,
        state: 'expired',
        endorsements: t.endorsements.size,
        quorum: this.quorum.shardOf(t)?.quorum,
      });
    }
    opts.metrics?.intents.inc({ outcome: 'expired' }, expired.length);
    opts.logger.info({ expired: expired.length }, 'intents expired without quorum');
  }
}
