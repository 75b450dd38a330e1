import { describe, expect, it } from 'vitest';
import { Registry, Counter } from 'prom-client';
import { OutboxPruner } from '../../../src/commit/outbox-pruner.js';
import { NetSyncError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { newRow } from '../../support/outbox-contract.js';

const HOUR = 3_600_000;

async function outboxWith(clock: ManualClock, committed: number, open: number): Promise<MemoryOutbox> {
  const ob = new MemoryOutbox();
  await ob.append(Array.from({ length: committed + open }, (_, i) => newRow(i)));
  ob.markCommitted(
    Array.from({ length: committed }, (_, i) => ({
      correlationId: newRow(i).correlationId,
      stream: 'CMD',
      seq: i + 1,
    })),
    clock.now(),
  );
  return ob;
}

const counter = (): Counter => new Counter({ name: 'pruned_total', help: 'x', registers: [new Registry()] });

describe('OutboxPruner', () => {
  it('deletes settled rows once older than the retention, in batches, never open rows', async () => {
    const clock = new ManualClock();
    const ob = await outboxWith(clock, 25, 3);
    const pruned = counter();
    const pruner = new OutboxPruner({
      outbox: ob,
      clock,
      logger: silentLogger(),
      retainMs: 48 * HOUR,
      batchRows: 10,
      pruned,
    });
    expect(await pruner.pruneOnce()).toBe(0);
    clock.advance(48 * HOUR);
    expect(await pruner.pruneOnce()).toBe(0); // not older yet: exactly the retention
    clock.advance(1);
    expect(await pruner.pruneOnce()).toBe(25);
    expect((await pruned.get()).values[0]!.value).toBe(25);
    expect(ob.counts()).toMatchObject({ committed: 0, 'pending-commit': 3 });
  });

  it('caps one round, and the next round goes on', async () => {
    const clock = new ManualClock();
    const ob = await outboxWith(clock, 25, 0);
    clock.advance(50 * HOUR);
    const pruner = new OutboxPruner({
      outbox: ob,
      clock,
      logger: silentLogger(),
      retainMs: 48 * HOUR,
      batchRows: 4,
      maxRowsPerRound: 10,
    });
    expect(await pruner.pruneOnce()).toBe(10);
    expect(await pruner.pruneOnce()).toBe(10);
    expect(await pruner.pruneOnce()).toBe(5);
  });

  it('runs every interval until stopped, and a failing round does not end the loop', async () => {
    const clock = new ManualClock();
    const ob = await outboxWith(clock, 4, 0);
    const real = ob.pruneSettled.bind(ob);
    let calls = 0;
    ob.pruneSettled = (before, limit) => {
      calls += 1;
      if (calls === 2) throw new NetSyncError('OUTBOX_IO', 'disk on fire');
      return real(before, limit);
    };
    const warnings: unknown[] = [];
    const logger = { ...silentLogger(), warn: (o: unknown) => warnings.push(o) } as unknown as ReturnType<
      typeof silentLogger
    >;
    const pruner = new OutboxPruner({ outbox: ob, clock, logger, retainMs: 48 * HOUR, intervalMs: HOUR });
    pruner.start();
    await flush();
    expect(calls).toBe(1); // first round at start: nothing old yet
    clock.advance(49 * HOUR); // wakes the sleeper; round 2 throws
    await flush();
    expect(calls).toBe(2);
    expect(warnings).toHaveLength(1);
    clock.advance(HOUR);
    await flush();
    expect(calls).toBe(3);
    expect(ob.counts().committed).toBe(0);
    await pruner.stop();
    await pruner.stop();
    clock.advance(10 * HOUR);
    await flush();
    expect(calls).toBe(3);
  });
});

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}
