// Scenario I (full): the inbox under SIGKILLs of its sidecar and nats-server restarts. See scenarios/i-inbox.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from './harness/prng.js';
import { consensusUnavailable } from './scenarios/b-mesh-partition.js';
import { I_FULL, scenarioI } from './scenarios/i-inbox.js';

describe('chaos I: inbox sidecar SIGKILLed and nats-server restarted while commands reach the agent', () => {
  for (const seed of chaosSeeds()) {
    it(`${I_FULL.inboxKills} inbox kills, ${I_FULL.natsRestarts} nats restarts (seed ${seed})`, async (ctx) => {
      const why = consensusUnavailable();
      if (why !== null) {
        console.log(`[chaos] scenario I skipped: ${why}`);
        ctx.skip();
      }
      await scenarioI(seed, I_FULL);
    });
  }
});
