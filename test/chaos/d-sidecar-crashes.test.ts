// Scenario D (full): the sidecar SIGKILLed during writes and replay, restarted each time.
// See scenarios/d-sidecar-crashes.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from './harness/prng.js';
import { D_FULL, scenarioD } from './scenarios/d-sidecar-crashes.js';

describe('chaos D: sidecar SIGKILLed during replay and SQLite writes', () => {
  for (const seed of chaosSeeds()) it(`${D_FULL.kills} kills (seed ${seed})`, () => scenarioD(seed, D_FULL));
});
