// Scenario C: latency 200–2000 ms, a flapping link and NATS restarts at once. See scenarios/c-both-degraded.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from './harness/prng.js';
import { C_FULL, scenarioC } from './scenarios/c-both-degraded.js';

describe('chaos C: both degraded', () => {
  for (const seed of chaosSeeds()) it(`latency, flapping, NATS restarts (seed ${seed})`, () => scenarioC(seed, C_FULL));
});
