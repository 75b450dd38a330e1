// Scenario H: readiness false within 5 s of losing NATS, true after recovery. See scenarios/h-readiness.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from './harness/prng.js';
import { scenarioH, type HVariant } from './scenarios/h-readiness.js';

describe('chaos H: readiness follows NATS', () => {
  const variants: HVariant[] = ['cut', 'kill', 'freeze', 'blackhole'];
  for (const seed of chaosSeeds()) for (const v of variants) it(`${v} (seed ${seed})`, () => scenarioH(v, seed));
});
