import { NatsSchema, type NatsConfig } from '../../../src/config/schema.js';
import { NatsConnector } from '../../../src/nats/nats-connector.js';
import { registerCleanup } from '../../support/nats-fixture.js';

/** A validated `nats` config slice with fast reconnects for tests. */
export function natsConfig(servers: string[], extra: Partial<Record<keyof NatsConfig, unknown>> = {}): NatsConfig {
  return NatsSchema.parse({ servers, reconnectWaitMs: 100, reconnectJitterMs: 50, ...extra });
}

/** A started connector, stopped after the test. */
export async function useConnector(
  servers: string[],
  extra: Partial<Record<keyof NatsConfig, unknown>> = {},
): Promise<NatsConnector> {
  const connector = new NatsConnector({
    config: natsConfig(servers, extra),
    connectTimeoutMs: 1_000,
    pingIntervalMs: 1_000,
  });
  await connector.start();
  registerCleanup(() => connector.stop());
  return connector;
}

/** Polls `check` every 20 ms until it returns true, or throws `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
