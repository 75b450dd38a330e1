/**
 * Vitest fixtures for real nats-server processes. Inside a test, or at a test file's top level:
 *
 *   const nats = await useNatsServer();          // nats.url, nats.restart(), nats.kill('SIGSTOP')…
 *   const cluster = await useNatsCluster();      // cluster.urls, cluster.servers[i]
 *
 * Each registers its own disposal: `onTestFinished` inside a test; otherwise (file top level,
 * `beforeAll`) a file-level stack emptied by one `afterAll`. Both run last-in, first-out.
 */
import { afterAll, onTestFinished } from 'vitest';
import { startNatsCluster, type NatsCluster, type NatsClusterOptions } from '../../src/devkit/nats-cluster.js';
import { NatsServerProcess, type NatsServerOptions } from '../../src/devkit/nats-server-process.js';

// An afterAll registered while a beforeAll runs is silently dropped by vitest, so file-level
// cleanups go on a stack that one afterAll, registered when a test file imports this module
// (vitest isolates modules per file), empties.
const fileCleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  const errors: unknown[] = [];
  for (let c = fileCleanups.pop(); c !== undefined; c = fileCleanups.pop())
    await c().catch((e: unknown) => errors.push(e));
  if (errors.length > 0) throw errors[0];
});

/** Registers `cleanup` for the current test, or for the file when called outside a test. */
export function registerCleanup(cleanup: () => Promise<void>): void {
  try {
    onTestFinished(cleanup);
  } catch {
    fileCleanups.push(cleanup);
  }
}

/** Starts a JetStream nats-server on a free loopback port and disposes it after the test/file. */
/** Registers `cleanup` for the end of the test file, even when called inside a test. */
export function registerFileCleanup(cleanup: () => Promise<void>): void {
  fileCleanups.push(cleanup);
}

export async function useNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerProcess> {
  const server = await NatsServerProcess.start(opts);
  registerCleanup(() => server.dispose());
  return server;
}

/** Starts an `n`-node JetStream cluster (default 3) and disposes it after the test/file. */
export async function useNatsCluster(n = 3, opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const cluster = await startNatsCluster(n, opts);
  registerCleanup(() => cluster.dispose());
  return cluster;
}
