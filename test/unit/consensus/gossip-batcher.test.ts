// GossipBatcher on a manual clock: item, size and delay limits, and the leading-edge throttle.
import { describe, expect, it } from 'vitest';
import { GossipBatcher, type GossipBatcherOptions } from '../../../src/consensus/gossip-batcher.js';
import { ManualClock } from '../../support/manual-clock.js';

function batcher(over: Partial<GossipBatcherOptions<string>> = {}) {
  const clock = new ManualClock();
  const sent: string[][] = [];
  const b = new GossipBatcher<string>({
    clock,
    delayMs: 20,
    maxItems: 4,
    send: async (items) => void sent.push(items),
    onError: () => undefined,
    ...over,
  });
  const tick = async (ms: number): Promise<void> => {
    clock.advance(ms);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return { b, clock, sent, tick };
}

describe('GossipBatcher', () => {
  it('sends a batch after delayMs, or at once when it holds maxItems', async () => {
    const { b, sent, tick } = batcher();
    b.add('a');
    b.add('b');
    await tick(19);
    expect(sent).toEqual([]);
    await tick(1);
    expect(sent).toEqual([['a', 'b']]);
    for (const x of ['c', 'd', 'e', 'f']) b.add(x);
    expect(sent).toEqual([
      ['a', 'b'],
      ['c', 'd', 'e', 'f'],
    ]);
  });

  it('cuts a batch before the next item would pass maxBytes; an oversized item goes alone', async () => {
    const { b, sent, tick } = batcher({ sizeOf: (s) => s.length, maxBytes: 10, maxItems: 100 });
    for (const x of ['aaaa', 'bbbb', 'cccc', 'd']) b.add(x);
    expect(sent).toEqual([['aaaa', 'bbbb']]);
    b.add('x'.repeat(25));
    expect(sent).toEqual([
      ['aaaa', 'bbbb'],
      ['cccc', 'd'],
    ]);
    await tick(20);
    expect(sent).toEqual([['aaaa', 'bbbb'], ['cccc', 'd'], ['x'.repeat(25)]]);
  });

  it('leading: the first item after a quiet period goes at once; items after it are batched', async () => {
    const { b, sent, tick } = batcher({ leading: true, maxItems: 100 });
    b.add('a');
    expect(sent).toEqual([['a']]);
    b.add('b');
    b.add('c');
    expect(sent).toEqual([['a']]);
    await tick(20);
    expect(sent).toEqual([['a'], ['b', 'c']]);
    await tick(5);
    b.add('d'); // 5 ms after the last batch: waits
    expect(sent.length).toBe(2);
    await tick(20);
    expect(sent).toEqual([['a'], ['b', 'c'], ['d']]);
    await tick(100);
    b.add('e'); // quiet again
    expect(sent.at(-1)).toEqual(['e']);
  });

  it('stop() sends what is queued and waits for the sends', async () => {
    const { b, sent } = batcher();
    b.add('a');
    await b.stop();
    expect(sent).toEqual([['a']]);
  });
});
