import { describe, expect, it } from 'vitest';
import { KeyedSerial } from '../../../src/core/keyed-serial.js';

describe('KeyedSerial', () => {
  it('runs work for one key one at a time, in order, and other keys alongside', async () => {
    const serial = new KeyedSerial();
    const log: string[] = [];
    let release!: () => void;
    const first = serial.run('a', async () => {
      log.push('a1 start');
      await new Promise<void>((r) => (release = r));
      log.push('a1 end');
    });
    const second = serial.run('a', async () => void log.push('a2'));
    await serial.run('b', async () => void log.push('b1'));
    expect(log).toEqual(['a1 start', 'b1']);
    release();
    await Promise.all([first, second]);
    expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
  });

  it('a failed run rejects its caller but does not block the next', async () => {
    const serial = new KeyedSerial();
    await expect(serial.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    let ran = false;
    await serial.run('a', async () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });
});
