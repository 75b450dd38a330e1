import { describe, expect, it } from 'vitest';
import { BatchingWorker } from '../../../src/runtime/batching-worker.js';

// Answers each item with [item, size of its batch], so a test sees how requests were batched.
const SIZES = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (b) => parentPort.postMessage({ id: b.id, results: b.items.map((i) => [i, b.items.length]) }));
`;

// Exits on the first batch without answering it.
const EXITS = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => process.exit(3));
`;

describe('BatchingWorker', () => {
  it('sends the requests of one turn as one batch and answers each in order', async () => {
    const w = new BatchingWorker<number, [number, number] | 'here'>({ source: SIZES, here: () => 'here' });
    try {
      const first = await Promise.all([1, 2, 3].map((i) => w.run(i)));
      const second = await Promise.all([4, 5].map((i) => w.run(i)));
      expect(first).toEqual([
        [1, 3],
        [2, 3],
        [3, 3],
      ]);
      expect(second).toEqual([
        [4, 2],
        [5, 2],
      ]);
      expect(w.onWorker).toBe(true);
    } finally {
      await w.close();
    }
  });

  it('posts what toWorker makes of a request', async () => {
    const w = new BatchingWorker<{ n: number }, unknown>({ source: SIZES, toWorker: (r) => r.n * 10, here: () => 0 });
    try {
      expect(await w.run({ n: 4 })).toEqual([40, 1]);
    } finally {
      await w.close();
    }
  });

  it('answers here what the worker held when it exited, and everything after', async () => {
    const w = new BatchingWorker<number, string>({ source: EXITS, here: (i) => `here ${i}` });
    try {
      expect(await Promise.all([1, 2].map((i) => w.run(i)))).toEqual(['here 1', 'here 2']);
      expect(w.onWorker).toBe(false);
      expect(await w.run(3)).toBe('here 3');
    } finally {
      await w.close();
    }
  });

  it('answers here what is open when closed, and closes twice', async () => {
    const w = new BatchingWorker<number, [number, number] | string>({ source: SIZES, here: (i) => `here ${i}` });
    const pending = w.run(1);
    await w.close();
    await w.close();
    expect(await pending).toBe('here 1');
    expect(await w.run(2)).toBe('here 2');
  });
});
