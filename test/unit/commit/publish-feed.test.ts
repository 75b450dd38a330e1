import { describe, expect, it } from 'vitest';
import { PublishFeed } from '../../../src/commit/publish-feed.js';
import { runPublishPass } from '../../../src/commit/publish-pass.js';
import type { NewOutboxRow } from '../../../src/core/intent.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeJetStream } from '../../support/fake-jetstream.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';

const row = (n: number, over: Partial<NewOutboxRow> = {}): NewOutboxRow => ({
  correlationId: `id-${String(n).padStart(4, '0')}`,
  subject: 'root.solar.command.a.b',
  body: new TextEncoder().encode(JSON.stringify({ n })),
  headers: {},
  kind: 'command',
  state: 'pending-commit',
  createdAtMs: 1_000 + n,
  ...over,
});
const ids = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => row(from + i).correlationId);

// Counts outbox reads, so a test can tell memory from the outbox.
function countingOutbox(): MemoryOutbox & { reads: number } {
  const outbox = new MemoryOutbox() as MemoryOutbox & { reads: number };
  outbox.reads = 0;
  const list = outbox.listPublishable.bind(outbox);
  outbox.listPublishable = (...a) => {
    outbox.reads++;
    return list(...a);
  };
  return outbox;
}

function feedOn(outbox: MemoryOutbox, maxRows: number): PublishFeed {
  const feed = new PublishFeed(outbox, maxRows);
  outbox.onAppended((rows) => feed.offer(rows));
  return feed;
}

describe('PublishFeed', () => {
  it('reads the outbox first, then serves appended rows from memory in order', async () => {
    const outbox = countingOutbox();
    await outbox.append([row(1), row(2)]);
    const feed = feedOn(outbox, 100);
    expect(feed.take(10).map((r) => r.correlationId)).toEqual(ids(1, 2));
    expect(outbox.reads).toBe(1);
    await outbox.append([row(3), row(4, { state: 'proposed' }), row(5)]);
    expect(feed.take(1).map((r) => r.correlationId)).toEqual(ids(3, 3));
    expect(feed.take(10).map((r) => r.correlationId)).toEqual([row(5).correlationId]);
    expect(feed.take(10)).toEqual([]);
    expect(outbox.reads).toBe(1);
  });

  it('falls back to the outbox past its bound, without losing or repeating a row', async () => {
    const outbox = countingOutbox();
    const feed = feedOn(outbox, 3);
    expect(feed.take(10)).toEqual([]);
    await outbox.append([row(1), row(2)]);
    await outbox.append([row(3), row(4), row(5)]);
    const got = [...feed.take(2), ...feed.take(10), ...feed.take(10)].map((r) => r.correlationId);
    expect(got).toEqual(ids(1, 5));
    expect(outbox.reads).toBeGreaterThan(1);
  });

  it('reads the outbox again once memory runs dry after a rescan (a promoted row)', async () => {
    const outbox = countingOutbox();
    await outbox.append([row(1, { state: 'proposed' })]);
    const feed = feedOn(outbox, 100);
    expect(feed.take(10)).toEqual([]);
    await outbox.append([row(2)]);
    outbox.promote(row(1).correlationId, row(1).body, {}, 2_000);
    feed.rescan();
    expect(feed.take(10).map((r) => r.correlationId)).toEqual(ids(2, 2));
    outbox.claim({ ids: ids(2, 2), atMs: 2_000, committed: [] }); // as a pass would, before sending
    expect(feed.take(10).map((r) => r.correlationId)).toEqual(ids(1, 1));
  });

  it('lets appends claim rows only while every older publishable row was handed out', async () => {
    const outbox = countingOutbox();
    const feed = feedOn(outbox, 100);
    outbox.claimAppends({ owner: 'me', ttlMs: 10_000, now: () => 5_000, room: () => feed.claimRoom(3) });
    expect(feed.claimRoom(3)).toBe(0); // not yet complete: the outbox was never read
    expect(feed.take(10)).toEqual([]);
    expect(feed.claimRoom(3)).toBe(3);
    await outbox.append([row(1), row(2), row(3), row(4)]);
    // Three claimed, the fourth left pending: no more claims until it is handed out.
    expect(feed.claimRoom(3)).toBe(0);
    await outbox.append([row(5)]);
    expect(outbox.get(row(5).correlationId)?.state).toBe('pending-commit');
    expect(feed.take(10).map((r) => [r.correlationId, r.state])).toEqual([
      ...ids(1, 3).map((id) => [id, 'in-flight']),
      ...ids(4, 5).map((id) => [id, 'pending-commit']),
    ]);
    expect(feed.claimRoom(3)).toBe(3);
    feed.rescan();
    expect(feed.claimRoom(3)).toBe(0); // a promoted row may be older
  });

  it('keeps claimed rows it lets go of unsent, for the committer to put back', async () => {
    const outbox = countingOutbox();
    const feed = feedOn(outbox, 2);
    outbox.claimAppends({ owner: 'me', ttlMs: 10_000, now: () => 5_000, room: () => 5 });
    expect(feed.take(10)).toEqual([]);
    await outbox.append([row(1), row(2), row(3)]); // memory holds 2: the third overflows, memory is let go
    await outbox.append([row(4), row(5, { state: 'proposed' })]); // memory is incomplete: 4's claim is kept aside too
    outbox.promote(row(5).correlationId, row(5).body, {}, 5_500);
    // Rows wait until the dropped claims are put back: they must not overtake them.
    expect(feed.hasDroppedClaims).toBe(true);
    expect(feed.take(10)).toEqual([]);
    // Those still covered by their claim's lease go back; the rest stay in-flight, for a lookup.
    expect(feed.putBackDroppedClaims((r) => r.correlationId !== row(2).correlationId, 6_000)).toBe(1);
    expect(feed.hasDroppedClaims).toBe(false);
    expect(outbox.get(row(2).correlationId)?.state).toBe('in-flight');
    expect(outbox.get(row(1).correlationId)).toMatchObject({
      state: 'pending-commit',
      lastError: 'claimed on append, not sent',
    });
    expect(feed.take(10).map((r) => r.correlationId)).toEqual([1, 3, 4, 5].map((n) => row(n).correlationId));
    expect(feed.heldClaims().map((r) => r.correlationId)).toEqual([]);
  });

  it('lets a pass publish from memory and sends only the rows its claim moved', async () => {
    const outbox = countingOutbox();
    const feed = feedOn(outbox, 100);
    const js = new FakeJetStream(() => Date.now());
    const pass = () =>
      runPublishPass({
        outbox,
        publisher: js,
        now: () => Date.now(),
        window: 4,
        batchRows: 8,
        logger: silentLogger(),
        metrics: undefined,
        lease: { owner: 'me', ttlMs: 10_000, sendMarginMs: 5_000 },
        feed,
        signal: new AbortController().signal,
        onSettled: () => undefined,
      });
    expect((await pass()).claimed).toBe(0);
    await outbox.append([row(1), row(2), row(3)]);
    outbox.markTerminal([row(2).correlationId], 'dead', 'test', 1);
    const reads = outbox.reads;
    const result = await pass();
    expect(result.committed.map((c) => c.correlationId)).toEqual([row(1).correlationId, row(3).correlationId]);
    expect(outbox.get(row(2).correlationId)?.state).toBe('dead');
    expect(outbox.counts().committed).toBe(2);
    // The claim mismatch makes the feed read the outbox again; the rows themselves came from memory.
    expect(outbox.reads - reads).toBeLessThanOrEqual(2);
  });
});
