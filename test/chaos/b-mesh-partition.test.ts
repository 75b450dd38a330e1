// Scenario B (full): majority/minority partition of the libp2p mesh. See scenarios/b-mesh-partition.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from './harness/prng.js';
import { B_FULL, consensusUnavailable, scenarioB } from './scenarios/b-mesh-partition.js';

describe('chaos B: NATS up, libp2p partitioned (majority/minority)', () => {
  for (const seed of chaosSeeds()) {
    it(`minority commits nothing without quorum; both sides converge (seed ${seed})`, async (ctx) => {
      const why = consensusUnavailable();
      if (why !== null) {
        console.log(`[chaos] scenario B skipped: ${why}`);
        ctx.skip();
      }
      await scenarioB(seed, B_FULL);
    });
  }
});
