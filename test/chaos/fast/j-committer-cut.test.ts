// Scenario J (fast, part of `npm test`): a committer cut off mid-publish, twice; needs network namespaces.
import { describe, it } from 'vitest';
import { netnsUnavailable } from '../harness/netns.js';
import { chaosSeeds } from '../harness/prng.js';
import { J_FAST, scenarioJ } from '../scenarios/j-committer-cut.js';

describe('chaos J: committer cut off mid-publish (fast)', () => {
  for (const seed of chaosSeeds()) {
    it(`s1 cut off twice (seed ${seed})`, async (ctx) => {
      const why = netnsUnavailable();
      if (why !== null) {
        console.log(`[chaos] scenario J skipped: ${why}`);
        ctx.skip();
      }
      await scenarioJ(seed, J_FAST);
    });
  }
});
