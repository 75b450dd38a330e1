import {
  createPeerScoreParams,
  createPeerScoreThresholds,
  validatePeerScoreParams,
  validatePeerScoreThresholds,
} from '@libp2p/gossipsub/score';
import { describe, expect, test } from 'vitest';
import { hasCode } from '../../../src/core/errors.js';
import { fastMsgId } from '../../../src/mesh/libp2p-factory.js';
import { staticPeers } from '../../../src/mesh/mesh-node.js';
import { MESH_SCORE_THRESHOLDS, MESH_TOPIC_SCORE, meshScoreParams } from '../../../src/mesh/score-params.js';

const A = '12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F6LPhWmrsP2uMD';
const B = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK';

describe('mesh configuration', () => {
  test('score parameters and thresholds pass gossipsub validation', () => {
    expect(() => validatePeerScoreParams(createPeerScoreParams(meshScoreParams('/t')))).not.toThrow();
    expect(() => validatePeerScoreThresholds(createPeerScoreThresholds(MESH_SCORE_THRESHOLDS))).not.toThrow();
  });

  test('the arithmetic in score-params.ts holds: 5 invalid messages graylist even with full credit', () => {
    const penalty = (c: number): number => MESH_TOPIC_SCORE.invalidMessageDeliveriesWeight * c * c;
    const cap = meshScoreParams('/t').topicScoreCap!;
    expect(cap + penalty(5)).toBeLessThan(MESH_SCORE_THRESHOLDS.graylistThreshold);
    expect(cap + penalty(4)).toBeGreaterThanOrEqual(MESH_SCORE_THRESHOLDS.graylistThreshold);
    expect(MESH_TOPIC_SCORE.meshMessageDeliveriesWeight).toBe(0); // quiet topics are not punished
  });

  test('the readmission times in score-params.ts follow from the parameters', () => {
    // Readmitted when -5·c² + credit >= -80: c <= 4 without credit, 4.24 with the cap of 10.
    const cap = meshScoreParams('/t').topicScoreCap!;
    const w = MESH_TOPIC_SCORE.invalidMessageDeliveriesWeight;
    const limit = (credit: number): number => Math.sqrt((MESH_SCORE_THRESHOLDS.graylistThreshold - credit) / w);
    expect(limit(0)).toBeCloseTo(4, 5);
    expect(limit(cap)).toBeCloseTo(4.24, 2);
    // Counters decay once a second (decayInterval) by invalidMessageDeliveriesDecay.
    expect(meshScoreParams('/t').decayInterval).toBe(1_000);
    const minutes = (c0: number): number =>
      Math.log(c0 / limit(0)) / -Math.log(MESH_TOPIC_SCORE.invalidMessageDeliveriesDecay) / 60;
    expect(minutes(5)).toBeCloseTo(3.7, 1);
    expect(Math.round(minutes(113))).toBe(56);
    expect(Math.round(minutes(223))).toBe(67);
    expect(meshScoreParams('/t').retainScore).toBe(3_600_000); // a disconnected peer: kept an hour
  });

  test('staticPeers drops our own entry and names the bad key', () => {
    const peers = [`/ip4/10.0.0.1/tcp/4001/p2p/${A}`, `/dns4/b.example/tcp/4001/p2p/${B}`];
    expect(staticPeers(peers, A)).toEqual([{ peerId: B, addr: peers[1] }]);
    let err: unknown;
    try {
      staticPeers(['/ip4/10.0.0.1/tcp/4001'], A);
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as { field: string }).field).toBe('mesh.peers[0]');
  });

  test('fastMsgId separates identical data from different publications', () => {
    const data = new Uint8Array([1, 2, 3]);
    const one = fastMsgId({ from: new Uint8Array([9]), seqno: new Uint8Array([1]), data });
    expect(fastMsgId({ from: new Uint8Array([9]), seqno: new Uint8Array([1]), data })).toBe(one);
    expect(fastMsgId({ from: new Uint8Array([9]), seqno: new Uint8Array([2]), data })).not.toBe(one);
  });
});
