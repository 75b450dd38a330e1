// Scenario A (fast, part of `npm test`): short outages by a cut link and by SIGKILL.
import { describe, it } from 'vitest';
import { chaosSeeds } from '../harness/prng.js';
import { A_FAST, scenarioA } from '../scenarios/a-nats-down.js';

describe('chaos A (fast): NATS down', () => {
  for (const seed of chaosSeeds()) {
    it(`link cut (seed ${seed})`, () => scenarioA('cut', seed, A_FAST));
    it(`nats-server SIGKILLed (seed ${seed})`, () => scenarioA('kill', seed, A_FAST));
  }
});
