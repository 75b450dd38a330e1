// Scenario B (fast): a short majority/minority partition of the mesh (about 80 s). Runs with the
// chaos project; `npm test` holds its guarantees with test/integration/consensus/consensus-minority
// and test/integration/idempotency/idempotency-keys (see vitest.config.ts).
import { describe, it } from 'vitest';
import { chaosSeeds } from '../harness/prng.js';
import { B_FAST, consensusUnavailable, scenarioB } from '../scenarios/b-mesh-partition.js';

describe('chaos B (fast): mesh partitioned', () => {
  for (const seed of chaosSeeds()) {
    it(`short partition (seed ${seed})`, async (ctx) => {
      const why = consensusUnavailable();
      if (why !== null) {
        console.log(`[chaos] scenario B skipped: ${why}`);
        ctx.skip();
      }
      await scenarioB(seed, B_FAST);
    });
  }
});
