// Scenario D (fast): 20 SIGKILLs of the sidecar during writes and replay. Runs with the chaos
// project; `npm test` holds the guarantee with test/integration/sidecar/crash-replay.test.ts.
import { describe, it } from 'vitest';
import { chaosSeeds } from '../harness/prng.js';
import { D_FAST, scenarioD } from '../scenarios/d-sidecar-crashes.js';

// Its own timeout: the kill loop may take up to D_FAST.maxMs on a loaded box, then drain
// (up to 60 s) and reconcile; the suite's 120 s default would cut a slow but clean run.
const TIMEOUT_MS = D_FAST.maxMs + 120_000;

describe('chaos D (fast): sidecar SIGKILLed', () => {
  for (const seed of chaosSeeds())
    it(`${D_FAST.kills} kills (seed ${seed})`, () => scenarioD(seed, D_FAST), TIMEOUT_MS);
});
