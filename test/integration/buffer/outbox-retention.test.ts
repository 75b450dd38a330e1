// Retention on a real SQLite file: the pruner deletes old settled rows in batches while open
// and dead rows stay, and the freed pages are reused, so a file with a steady flow of intents
// levels off instead of growing with history.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteOutbox } from '../../../src/buffer/index.js';
import { OutboxPruner } from '../../../src/commit/outbox-pruner.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { newRow } from '../../support/outbox-contract.js';
import { tempDir } from '../../support/temp-dir.js';

const HOUR = 3_600_000;
const DAY_ROWS = 20_000;

describe('outbox retention on a real file', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  it('prunes settled rows past the retention, keeps open and dead rows, and the file levels off', async () => {
    const path = join(tempDir('retention'), 'outbox.db');
    const outbox = SqliteOutbox.open({ path });
    closers.push(() => outbox.close());
    const clock = new ManualClock();
    const pruner = new OutboxPruner({ outbox, clock, logger: silentLogger(), retainMs: 48 * HOUR });
    let next = 0;
    // One "day": DAY_ROWS intents appended and committed, one of them refused for good, one left open.
    const day = async (): Promise<{ dead: string; open: string }> => {
      const rows = Array.from({ length: DAY_ROWS }, () => newRow(next++, { createdAtMs: clock.now() }));
      for (let i = 0; i < rows.length; i += 1_000) await outbox.append(rows.slice(i, i + 1_000));
      const [dead, open, ...rest] = rows.map((r) => r.correlationId);
      outbox.markCommitted(
        rest.map((correlationId, i) => ({ correlationId, stream: 'COMMANDS', seq: i + 1 })),
        clock.now(),
      );
      outbox.markTerminal([dead!], 'dead', 'NATS_PAYLOAD_TOO_LARGE: test', clock.now());
      clock.advance(24 * HOUR);
      return { dead: dead!, open: open! };
    };
    const kept: Array<{ dead: string; open: string }> = [];
    for (let d = 0; d < 3; d++) kept.push(await day());
    // Now is day 3: day 0 settled 72 h ago and goes; day 1 settled exactly 48 h ago and stays.
    expect(await pruner.pruneOnce()).toBe(DAY_ROWS - 2);
    const sizeAfterFirstPrune = statSync(path).size;
    for (let d = 3; d < 8; d++) {
      kept.push(await day());
      expect(await pruner.pruneOnce()).toBe(DAY_ROWS - 2);
    }
    // Five more days of intents went through, yet the file grew by less than one day's rows.
    const growth = statSync(path).size - sizeAfterFirstPrune;
    expect(growth).toBeLessThan(sizeAfterFirstPrune / 3);
    for (const k of kept) {
      expect(outbox.get(k.dead)?.state).toBe('dead');
      expect(outbox.get(k.open)?.state).toBe('pending-commit');
    }
    expect(outbox.counts()).toMatchObject({ committed: 2 * (DAY_ROWS - 2), dead: 8, 'pending-commit': 8 });
  });
});
