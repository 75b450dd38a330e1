import { describe, expect, it } from 'vitest';
import { PeriodicTask } from '../../../src/runtime/periodic-task.js';
import { NetSyncError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ManualClock } from '../../support/manual-clock.js';

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

function task(clock: ManualClock, runAtStart: boolean, round: (signal: AbortSignal) => Promise<unknown>) {
  const warnings: unknown[] = [];
  const logger = { ...silentLogger(), warn: (o: unknown) => warnings.push(o) } as unknown as ReturnType<
    typeof silentLogger
  >;
  return {
    warnings,
    t: new PeriodicTask({ clock, logger, periodMs: 1_000, runAtStart, failureMessage: 'round failed', round }),
  };
}

describe('PeriodicTask', () => {
  it('runs a round at start or after the first pause, then once per period', async () => {
    for (const runAtStart of [true, false]) {
      const clock = new ManualClock();
      let rounds = 0;
      const { t } = task(clock, runAtStart, async () => rounds++);
      t.start();
      t.start(); // twice: one loop
      await flush();
      expect(rounds).toBe(runAtStart ? 1 : 0);
      clock.advance(1_000);
      await flush();
      expect(rounds).toBe(runAtStart ? 2 : 1);
      await t.stop();
      clock.advance(5_000);
      await flush();
      expect(rounds).toBe(runAtStart ? 2 : 1);
      expect(t.running).toBe(false);
    }
  });

  it('logs a failed round and goes on; a round aborted by the stop is not logged, other failures are', async () => {
    const clock = new ManualClock();
    let rounds = 0;
    const { t, warnings } = task(clock, true, async (signal) => {
      rounds++;
      if (rounds === 1) throw new Error('boom');
      await new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(new NetSyncError('ABORTED', 'stopped'))),
      );
    });
    t.start();
    await flush();
    expect(warnings).toHaveLength(1);
    clock.advance(1_000);
    await flush();
    expect(rounds).toBe(2); // now blocked until the stop
    await t.stop();
    await t.stop();
    expect(warnings).toHaveLength(1);

    // A round that fails for another reason while the task stops is still reported.
    const other = task(clock, true, async (signal) => {
      await new Promise((r) => signal.addEventListener('abort', r));
      throw new Error('flush failed');
    });
    other.t.start();
    await flush();
    await other.t.stop();
    expect(other.warnings).toHaveLength(1);
  });
});
