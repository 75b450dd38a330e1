// Scenario I (fast): the inbox sidecar SIGKILLed twice and nats-server restarted once while
// commands reach a real agent (about 50 s). Runs with the chaos project; `npm test` holds the
// guarantee with test/integration/inbox/inbox-push.test.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from '../harness/prng.js';
import { consensusUnavailable } from '../scenarios/b-mesh-partition.js';
import { I_FAST, scenarioI } from '../scenarios/i-inbox.js';

// Load, settle (bounded by I_FAST.settleMs), then stops and reconciles: past the suite's 120 s default.
const TIMEOUT_MS = I_FAST.loadMs + I_FAST.settleMs + 120_000;

describe('chaos I (fast): inbox under faults', () => {
  for (const seed of chaosSeeds()) {
    it(
      `${I_FAST.inboxKills} inbox kills, ${I_FAST.natsRestarts} nats restart (seed ${seed})`,
      async (ctx) => {
        const why = consensusUnavailable();
        if (why !== null) {
          console.log(`[chaos] scenario I skipped: ${why}`);
          ctx.skip();
        }
        await scenarioI(seed, I_FAST);
      },
      TIMEOUT_MS,
    );
  }
});
