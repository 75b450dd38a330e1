// Scenario E: outages longer than the 1 s duplicate window with PubAcks lost. See scenarios/e-outage-past-dedupe.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from './harness/prng.js';
import { E_FULL, scenarioE } from './scenarios/e-outage-past-dedupe.js';

describe('chaos E: outage longer than the duplicate window (1 s)', () => {
  for (const seed of chaosSeeds()) {
    it(`PubAcks lost, link cut past the window (seed ${seed})`, () => scenarioE('link', seed, E_FULL));
    it(`PubAcks lost, sidecar SIGKILLed, restarted past the window (seed ${seed})`, () =>
      scenarioE('crash', seed, E_FULL));
  }
});
