/**
 * Context for (i1): what the inbox's two writes per delivery cost on this disk in this run. The
 * real SqliteAppliedCommands on a migrated outbox file (WAL, synchronous=FULL, as the sidecar
 * opens it): `record` before the ack and `markAcked` after it, each its own transaction.
 */
import { join } from 'node:path';
import { migrate, SqliteAppliedCommands } from '../src/buffer/index.js';
import { openDatabase } from '../src/buffer/open-database.js';
import { withTempDir } from './common.js';

/** Milliseconds per call, and per delivery (both calls). */
export interface StoreProbe {
  count: number;
  recordMs: number;
  markAckedMs: number;
  perDeliveryMs: number;
}

/** Runs `count` record + markAcked pairs in a temp dir. */
export function probeAppliedWrites(count: number): Promise<StoreProbe> {
  return withTempDir(async (dir) => {
    const db = openDatabase({ path: join(dir, 'probe.db'), synchronous: 'FULL', busyTimeoutMs: 5_000 });
    try {
      migrate(db);
      const applied = new SqliteAppliedCommands(db);
      let recordMs = 0;
      let markAckedMs = 0;
      for (let i = 0; i < count; i++) {
        const key = `probe-${i}`;
        const t0 = performance.now();
        await applied.record({
          key,
          stream: 'COMMANDS',
          streamSeq: i + 1,
          subject: 'root.solar.command.bench.intent',
          consumer: 'probe',
          appliedAtMs: Date.now(),
          ackSubject: `$JS.ACK.COMMANDS.probe.1.${i + 1}.${i + 1}.0.0`,
        });
        const t1 = performance.now();
        applied.markAcked(key, Date.now());
        markAckedMs += performance.now() - t1;
        recordMs += t1 - t0;
      }
      return {
        count,
        recordMs: recordMs / count,
        markAckedMs: markAckedMs / count,
        perDeliveryMs: (recordMs + markAckedMs) / count,
      };
    } finally {
      db.close();
    }
  });
}
