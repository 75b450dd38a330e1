// Scenario A (full): NATS down by a cut link and by SIGKILL, per seed. See scenarios/a-nats-down.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from './harness/prng.js';
import { A_FULL, scenarioA } from './scenarios/a-nats-down.js';

describe('chaos A: libp2p up, NATS down', () => {
  for (const seed of chaosSeeds()) {
    it(`link cut at the proxy (seed ${seed})`, () => scenarioA('cut', seed, A_FULL));
    it(`nats-server SIGKILLed and restarted on the same port and store (seed ${seed})`, () =>
      scenarioA('kill', seed, A_FULL));
  }
});
