// Scenario J (full): a committer cut off mid-publish, four cuts; needs network namespaces.
import { describe, it } from 'vitest';
import { netnsUnavailable } from './harness/netns.js';
import { chaosSeeds } from './harness/prng.js';
import { J_FULL, scenarioJ } from './scenarios/j-committer-cut.js';

describe('chaos J: committer cut off mid-publish', () => {
  for (const seed of chaosSeeds()) {
    it(`s1 cut off four times (seed ${seed})`, async (ctx) => {
      const why = netnsUnavailable();
      if (why !== null) {
        console.log(`[chaos] scenario J skipped: ${why}`);
        ctx.skip();
      }
      await scenarioJ(seed, J_FULL);
    });
  }
});
