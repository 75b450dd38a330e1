/**
 * (b″) net-sync's outbox alone, no NATS: the writes every intent costs on the commit path while
 * the committer keeps up, in the batches the sidecar uses. Appends of 1,000 concurrent callers
 * (one group commit, durable), each claiming its rows for the committer (`claimAppends`, as a
 * committer that has sent every older row does), and commit marks of `batchRows` rows written
 * non-durably, as the publish pass does. Context for (c): the commit path cannot run faster
 * than its outbox on the same thread.
 */
import { join } from 'node:path';
import { SqliteOutbox } from '../src/buffer/index.js';
import { ConfigSchema } from '../src/config/schema.js';
import type { NewOutboxRow } from '../src/core/intent.js';
import { benchCommandRow, sampleSince, type Sample, type Sizes } from './common.js';

const APPEND_CALLERS = 1_000;

/** (b″) in `dir`: append, claim and mark `sizes.netsync` intents after a warm-up. */
export async function measureOutboxFloor(sizes: Sizes, dir: string): Promise<Sample> {
  const defaults = ConfigSchema.parse({});
  const outbox = SqliteOutbox.open({ path: join(dir, 'floor.db'), synchronous: defaults.buffer.synchronous });
  const batchRows = defaults.commit.batchRows;
  let next = 0;
  const row = (): NewOutboxRow => benchCommandRow('FLOOR', next++);
  outbox.claimAppends({ owner: 'bench', ttlMs: 10_000, now: () => Date.now(), room: () => APPEND_CALLERS });
  let claimed = 0;
  // The seq of each stored row, as the publish pass has it from the row it sent.
  const seqs = new Map<string, number>();
  outbox.onAppended((rows) => {
    for (const r of rows) seqs.set(r.correlationId, r.seq);
    claimed += rows.filter((r) => r.state === 'in-flight').length;
  });
  let streamSeq = 0;
  const round = async (n: number): Promise<void> => {
    const rows = Array.from({ length: n }, row);
    await Promise.all(rows.map((r) => outbox.append([r])));
    for (let i = 0; i < rows.length; i += batchRows) {
      const marks = rows.slice(i, i + batchRows).map((r) => ({
        correlationId: r.correlationId,
        rowSeq: seqs.get(r.correlationId),
        stream: 'COMMANDS',
        seq: ++streamSeq,
      }));
      outbox.markCommitted(marks, Date.now(), { durable: false });
    }
    seqs.clear();
  };
  const run = async (total: number): Promise<void> => {
    for (let done = 0; done < total; done += APPEND_CALLERS) await round(Math.min(APPEND_CALLERS, total - done));
  };
  try {
    await run(sizes.warmup);
    const started = performance.now();
    await run(sizes.netsync);
    const sample = sampleSince(sizes.netsync, started, {
      batchRows,
      appendCallers: APPEND_CALLERS,
      synchronous: defaults.buffer.synchronous,
    });
    const committed = outbox.counts('command').committed;
    const total = sizes.warmup + sizes.netsync;
    if (committed !== total || claimed !== total)
      throw new Error(`(b″): ${committed} rows committed, ${claimed} claimed on append, expected ${total}`);
    return sample;
  } finally {
    await outbox.close();
  }
}
