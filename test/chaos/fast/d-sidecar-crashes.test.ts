// Scenario D (fast, part of `npm test`): 20 SIGKILLs of the sidecar during writes and replay.
import { describe, it } from 'vitest';
import { chaosSeeds } from '../harness/prng.js';
import { D_FAST, scenarioD } from '../scenarios/d-sidecar-crashes.js';

describe('chaos D (fast): sidecar SIGKILLed', () => {
  for (const seed of chaosSeeds()) it(`${D_FAST.kills} kills (seed ${seed})`, () => scenarioD(seed, D_FAST));
});
