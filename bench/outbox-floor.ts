/**
 * (b″) net-sync's outbox alone, no NATS: the three writes every intent costs on the commit
 * path, in the batches the sidecar uses. Appends of 1,000 concurrent callers (one group
 * commit), claims of `batchRows` rows (durable, carrying the previous claim's commit marks),
 * and the last commit marks written non-durably, as the publish pass does. Context for (c):
 * the commit path cannot run faster than its outbox on the same thread.
 */
import { join } from 'node:path';
import { SqliteOutbox } from '../src/buffer/index.js';
import { ConfigSchema } from '../src/config/schema.js';
import { buildCommandRow } from '../src/core/command-message.js';
import type { NewOutboxRow } from '../src/core/intent.js';
import { INTENT_SUBJECT, jsonPayload, sampleSince, type Sample, type Sizes } from './common.js';

const APPEND_CALLERS = 1_000;

/** (b″) in `dir`: append, claim and mark `sizes.netsync` intents after a warm-up. */
export async function measureOutboxFloor(sizes: Sizes, dir: string): Promise<Sample> {
  const defaults = ConfigSchema.parse({});
  const outbox = SqliteOutbox.open({ path: join(dir, 'floor.db'), synchronous: defaults.buffer.synchronous });
  const batchRows = defaults.commit.batchRows;
  const payload = jsonPayload();
  let next = 0;
  const row = (): NewOutboxRow =>
    buildCommandRow({
      correlationId: `01JFLOOR${String(next++).padStart(18, '0')}`,
      subject: INTENT_SUBJECT,
      payload,
      origin: '12D3KooWBenchBenchBenchBenchBenchBenchBenchBenchBench',
      traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
      createdAtMs: Date.now(),
    });
  let pendingMarks: Array<{ correlationId: string; stream: string; seq: number }> = [];
  let streamSeq = 0;
  const round = async (n: number): Promise<void> => {
    const rows = Array.from({ length: n }, row);
    await Promise.all(rows.map((r) => outbox.append([r])));
    for (let i = 0; i < rows.length; i += batchRows) {
      const ids = rows.slice(i, i + batchRows).map((r) => r.correlationId);
      const moved = outbox.claim({ ids, atMs: Date.now(), committed: pendingMarks });
      if (moved?.length !== ids.length) throw new Error(`(b″): claimed ${moved?.length ?? 'none'} of ${ids.length}`);
      pendingMarks = ids.map((correlationId) => ({ correlationId, stream: 'COMMANDS', seq: ++streamSeq }));
    }
  };
  const run = async (total: number): Promise<void> => {
    for (let done = 0; done < total; done += APPEND_CALLERS) await round(Math.min(APPEND_CALLERS, total - done));
    outbox.markCommitted(pendingMarks, Date.now(), { durable: false });
    pendingMarks = [];
  };
  try {
    await run(sizes.warmup);
    const started = performance.now();
    await run(sizes.netsync);
    const sample = sampleSince(sizes.netsync, started, { batchRows, appendCallers: APPEND_CALLERS, synchronous: defaults.buffer.synchronous });
    const committed = outbox.counts('command').committed;
    if (committed !== sizes.warmup + sizes.netsync) throw new Error(`(b″): ${committed} rows committed, expected ${sizes.warmup + sizes.netsync}`);
    return sample;
  } finally {
    await outbox.close();
  }
}
