import { defineConfig } from 'vitest/config';

// Three projects: `unit` (pure logic, memory fakes), `integration` (real nats-server,
// real SQLite, real libp2p) and `chaos` (real processes under injected faults).
// `npm test` runs unit + integration plus the fast chaos subset tagged "fast".
export default defineConfig({
  test: {
    setupFiles: ['./src/polyfills.ts'],
    // One test file at a time, on any machine: real servers sharing the cores keep timings
    // honest, and chaos scenarios must never overlap. (Per-project pool settings are not
    // honoured by vitest 3, so this lives here.)
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
          // The fast chaos subset (short A, B, D) runs with the integration tests in `npm test`.
          include: ['test/integration/**/*.test.ts', 'test/chaos/fast/**/*.test.ts'],
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
