/**
 * A Sidecar for the benchmark: fresh temp SQLite file and identity, silent logs, API on an
 * ephemeral loopback port, and a counter of committed rows fed by the committer's events.
 */
import { join } from 'node:path';
import { ConfigSchema, type Config } from '../src/config/schema.js';
import { silentLogger } from '../src/observability/logger.js';
import { Sidecar } from '../src/service/sidecar.js';
import { INTENT_SUBJECT, jsonPayload, waitUntil } from './common.js';

/** A started sidecar plus what the benchmark needs to watch it. */
export interface BenchSidecar {
  sidecar: Sidecar;
  /** Rows reported committed so far (events). */
  committed(): number;
  /** One accept through the library API. */
  accept(): Promise<unknown>;
  /** Waits until `total` rows are committed (events, then confirmed by the outbox counts). */
  waitCommitted(total: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Config for a bench sidecar in `dir` against `natsUrl`. Reconnects fast so an outage ends promptly. */
export function benchConfig(dir: string, natsUrl: string): Config {
  return ConfigSchema.parse({
    nats: { servers: [natsUrl], reconnectWaitMs: 100, reconnectJitterMs: 50 },
    api: { listen: '127.0.0.1:0' },
    buffer: { path: join(dir, 'outbox.db') },
    mesh: { keyFile: join(dir, 'bench.key') },
    log: { level: 'silent' },
  });
}

/** The body every bench intent carries: a 256-byte JSON payload. */
export function intentBody(): { subject: string; payload: string } {
  return { subject: INTENT_SUBJECT, payload: jsonPayload() };
}

/**
 * Creates and starts a sidecar. With `expectNats` it waits until the streams are ready, so
 * that measurements start with a publishable committer. `config` replaces {@link benchConfig}.
 */
export async function startBenchSidecar(
  dir: string,
  natsUrl: string,
  expectNats: boolean,
  config: Config = benchConfig(dir, natsUrl),
): Promise<BenchSidecar> {
  const sidecar = await Sidecar.create(config, silentLogger());
  let committed = 0;
  sidecar.committer.on('intent:committed', (rows) => (committed += rows.length));
  await sidecar.start();
  const stop = (): Promise<void> => sidecar.stop();
  try {
    if (expectNats) await waitUntil('streams ready', () => sidecar.publisher.state === 'connected', 15_000, 10);
  } catch (err) {
    await stop();
    throw err;
  }
  const body = intentBody();
  return {
    sidecar,
    committed: () => committed,
    accept: () => sidecar.intake.accept(body),
    waitCommitted: async (total, timeoutMs) => {
      await waitUntil(`${total} committed events`, () => committed >= total, timeoutMs, 2);
      // Events are a fast signal; the outbox is the truth.
      await waitUntil(`${total} committed rows`, () => sidecar.outbox.counts('command').committed >= total, 10_000, 20);
    },
    stop,
  };
}
