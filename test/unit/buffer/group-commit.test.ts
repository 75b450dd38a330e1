import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../src/buffer/group-commit.js';

function recorder(fail?: (items: number[]) => boolean) {
  const batches: number[][] = [];
  const gc = new GroupCommit<number>({
    maxItems: 10,
    write: (items) => {
      if (fail?.(items)) throw new Error('disk full');
      batches.push(items);
      return undefined;
    },
  });
  return { gc, batches };
}

describe('GroupCommit', () => {
  it('writes every caller of one event-loop turn in one batch, in order', async () => {
    const { gc, batches } = recorder();
    await Promise.all([gc.enqueue([1, 2]), gc.enqueue([3]), gc.enqueue([4, 5, 6])]);
    expect(batches).toEqual([[1, 2, 3, 4, 5, 6]]);
    await gc.enqueue([7]);
    expect(batches).toEqual([[1, 2, 3, 4, 5, 6], [7]]);
  });

  it('splits at maxItems on caller boundaries and never splits a caller', async () => {
    const { gc, batches } = recorder();
    const big = Array.from({ length: 15 }, (_, i) => 100 + i);
    await Promise.all([
      gc.enqueue([1, 2, 3, 4, 5, 6]),
      gc.enqueue([7, 8, 9, 10, 11]),
      gc.enqueue(big),
      gc.enqueue([12]),
    ]);
    expect(batches.map((b) => b.length)).toEqual([6, 5, 15, 1]);
  });

  it('rejects every caller of a failed batch and keeps going with the next', async () => {
    const { gc, batches } = recorder((items) => items.includes(3));
    const first = [gc.enqueue([1, 2, 3, 4, 5]), gc.enqueue([6, 7, 8, 9, 10])];
    const later = gc.enqueue([11]);
    const settled = await Promise.allSettled([...first, later]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(batches).toEqual([[11]]);
  });

  it('flushAll writes everything queued synchronously', async () => {
    const { gc, batches } = recorder();
    const p = [gc.enqueue([1]), gc.enqueue([2])];
    expect(gc.pendingCallers).toBe(2);
    gc.flushAll();
    expect(batches).toEqual([[1, 2]]);
    expect(gc.pendingCallers).toBe(0);
    await Promise.all(p);
  });

  describe('with sync (fsync off the event loop)', () => {
    function synced() {
      const log: string[] = [];
      const syncs: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
      const gc = new GroupCommit<number>({
        maxItems: 10,
        write: (items) => {
          log.push(`write ${items.join(',')}`);
          return () => log.push(`written ${items.join(',')}`);
        },
        sync: () =>
          new Promise<void>((resolve, reject) => {
            log.push('sync');
            syncs.push({ resolve, reject });
          }),
      });
      return { gc, log, syncs };
    }
    const turn = () => new Promise((r) => setImmediate(r));

    it('answers callers and runs `written` only after a sync that began after their write', async () => {
      const { gc, log, syncs } = synced();
      let done1 = false;
      const first = gc.enqueue([1]).then(() => (done1 = true));
      await turn();
      expect(log).toEqual(['write 1', 'sync']);
      expect(done1).toBe(false);
      // Written while the first sync runs: waits for the next one.
      let done2 = false;
      const second = gc.enqueue([2]).then(() => (done2 = true));
      await turn();
      expect(log).toEqual(['write 1', 'sync', 'write 2']);
      syncs[0]!.resolve();
      await first;
      expect(done2).toBe(false);
      expect(log).toEqual(['write 1', 'sync', 'write 2', 'written 1', 'sync']);
      syncs[1]!.resolve();
      await second;
      expect(log.at(-1)).toBe('written 2');
      await gc.settled();
    });

    it('rejects the callers of a failed sync, and the next sync answers later ones', async () => {
      const { gc, log, syncs } = synced();
      const first = gc.enqueue([1]);
      await turn();
      const second = gc.enqueue([2]);
      await turn();
      syncs[0]!.reject(new Error('EIO'));
      await expect(first).rejects.toThrow('EIO');
      syncs[1]!.resolve();
      await second;
      expect(log).not.toContain('written 1');
      expect(log).toContain('written 2');
    });
  });
});
