// Scenario F: R3 stream on a 3-node cluster, stream leader SIGKILLed under load.
// See scenarios/f-cluster-leader-kill.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from './harness/prng.js';
import { F_FULL, scenarioF } from './scenarios/f-cluster-leader-kill.js';

describe('chaos F: 3-node cluster, R3 stream, leader killed under load', () => {
  for (const seed of chaosSeeds())
    it(`${F_FULL.leaderKills} leader kills (seed ${seed})`, () => scenarioF(seed, F_FULL));
});
