import { defineConfig } from 'vitest/config';

// Three projects: `unit` (pure logic, memory fakes), `integration` (real nats-server,
// real SQLite, real libp2p) and `chaos` (real processes under injected faults).
// `npm test` runs unit (files in parallel) and integration (one file at a time), the latter
// with the fast chaos variants listed below; `npm run test:chaos` runs every chaos file.
export default defineConfig({
  test: {
    setupFiles: ['./src/polyfills.ts'],
    // One test file at a time, on any machine: real servers sharing the cores keep timings
    // honest, and chaos scenarios must never overlap. (Per-project pool settings are not
    // honoured by vitest 3, so this lives here.) The unit project, pure logic without servers,
    // runs its files in parallel instead: `npm test` and `npm run test:unit` say so on the
    // command line (--fileParallelism --maxWorkers=100%).
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          // Fast chaos variants that run with the integration tests in `npm test`. Fast B, D and I
          // run with the chaos project only: their guarantees are held here by
          // consensus/consensus-minority.test.ts (a minority cut off by TCP proxies commits nothing,
          // then once after the heal) with idempotency/idempotency-keys.test.ts (keyed intents
          // retried across sidecars past a 1 s duplicate window, stored once),
          // sidecar/crash-replay.test.ts (20 SIGKILLs, 1 s duplicate window) and
          // inbox/inbox-push.test.ts (inbox sidecar and nats-server SIGKILLed mid-run).
          include: [
            'test/integration/**/*.test.ts',
            'test/chaos/fast/a-nats-down.test.ts',
            'test/chaos/fast/j-committer-cut.test.ts',
          ],
          globalSetup: ['./test/support/global-build.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          maxConcurrency: 1,
        },
      },
      {
        extends: true,
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          globalSetup: ['./test/support/global-build.ts'],
          testTimeout: 600_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
