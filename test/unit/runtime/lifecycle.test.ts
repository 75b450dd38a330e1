import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.js';
import { Lifecycle, type Part } from '../../../src/runtime/lifecycle.js';

function recorder(): {
  log: string[];
  part(name: string, opts?: { failStart?: boolean; failStop?: boolean; noStart?: boolean }): Part;
} {
  const log: string[] = [];
  return {
    log,
    part: (name, opts = {}) => ({
      name,
      ...(opts.noStart === true
        ? {}
        : {
            start: async () => {
              log.push(`start ${name}`);
              if (opts.failStart === true) throw new Error(`${name} failed`);
            },
          }),
      stop: async () => {
        log.push(`stop ${name}`);
        if (opts.failStop === true) throw new Error(`${name} failed`);
      },
    }),
  };
}

describe('Lifecycle', () => {
  it('starts in order and stops in reverse, once', async () => {
    const r = recorder();
    const life = new Lifecycle([r.part('a'), r.part('b'), r.part('c')], silentLogger());
    await life.start();
    await life.stop();
    await life.stop();
    expect(r.log).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  it('on a failed start, stops only the parts started before it, then rethrows', async () => {
    const r = recorder();
    const life = new Lifecycle([r.part('a'), r.part('b', { failStart: true }), r.part('c')], silentLogger());
    await expect(life.start()).rejects.toThrow('b failed');
    expect(r.log).toEqual(['start a', 'start b', 'stop a']);
  });

  it('a part without start holds what its constructor opened: stopped even if start never ran', async () => {
    const r = recorder();
    const life = new Lifecycle([r.part('file', { noStart: true }), r.part('server')], silentLogger());
    await life.stop();
    expect(r.log).toEqual(['stop file']);
  });

  it('a stop that throws does not keep the others from stopping', async () => {
    const r = recorder();
    const life = new Lifecycle([r.part('a'), r.part('b', { failStop: true }), r.part('c')], silentLogger());
    await life.start();
    await life.stop();
    expect(r.log.slice(3)).toEqual(['stop c', 'stop b', 'stop a']);
  });
});
