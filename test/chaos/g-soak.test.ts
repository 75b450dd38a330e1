// Scenario G: soak under budgets (RSS, SQLite size, stream retention, drain time). See scenarios/g-soak.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from './harness/prng.js';
import { G_FULL, scenarioG } from './scenarios/g-soak.js';

describe('chaos G: soak', () => {
  for (const seed of chaosSeeds())
    it(`${G_FULL.loadMs / 1000} s at ${G_FULL.ratePerSec}/s, a ${G_FULL.outageMs / 1000} s outage (seed ${seed})`, () =>
      scenarioG(seed, G_FULL));
});
