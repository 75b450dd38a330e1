import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { ColocationRefund } from '../../../src/mesh/colocation-refund.js';

const conn = (peer: string, ip: string) => ({ remotePeer: peer, remoteAddr: multiaddr(`/ip4/${ip}/tcp/4001`) });

describe('ColocationRefund', () => {
  it('gives a member on a crowded IP its P6 back, and nobody else anything', () => {
    // 14 peers on 127.0.0.1 (threshold 10, weight -5): P6 = -5 × 4² = -80 each, the graylist threshold.
    const connections = [
      ...Array.from({ length: 14 }, (_, i) => conn(`m${i}`, '127.0.0.1')),
      conn('m0', '127.0.0.1'), // a second connection of one peer counts once
      conn('far', '10.0.0.7'),
    ];
    let now = 0;
    const refund = new ColocationRefund({
      connections: () => connections,
      exempt: (p) => p.startsWith('m') && p !== 'm13',
      weight: -5,
      threshold: 10,
      now: () => now,
    });
    expect(refund.score('m0')).toBe(80);
    expect(refund.score('m13'), 'a non-member keeps its penalty').toBe(0);
    expect(refund.score('far')).toBe(0);
    connections.splice(10, 4); // down to 10 peers on the IP: no penalty left (after the cache)
    expect(refund.score('m1')).toBe(80);
    now = 1_000;
    expect(refund.score('m1')).toBe(0);
  });
});
