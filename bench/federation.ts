/**
 * (f) Signed federation commit (issue 20): `FederationIntake.accept()` of one sidecar with
 * consensus off, ~1,024 outstanding, timed until every event is committed on the partner's
 * subject. Each event is one Ed25519 signature over its DSSE PAE (node:crypto), then the same
 * outbox and committer as (c). Same payload and window as (c), on a fresh nats-server and file.
 */
import { join } from 'node:path';
import { ConfigSchema } from '../src/config/schema.js';
import { generateIdentity, identityPeerId, writeIdentity } from '../src/mesh/identity.js';
import { silentLogger } from '../src/observability/logger.js';
import { Sidecar } from '../src/service/sidecar.js';
import {
  budgetMs,
  closedLoop,
  jsonPayload,
  sampleSince,
  waitUntil,
  WINDOW,
  withNats,
  withTempDir,
  within,
  type Sample,
  type Sizes,
} from './common.js';
import { benchConfig } from './sidecar-harness.js';

/** A bench sidecar with federation on: its own key is the one signer, partner `acme` may be sent to. */
async function startFederationSidecar(dir: string, natsUrl: string): Promise<Sidecar> {
  const keyFile = join(dir, 'bench.key');
  const key = await generateIdentity();
  await writeIdentity(keyFile, key);
  const base = benchConfig(dir, natsUrl);
  const config = ConfigSchema.parse({
    ...base,
    streams: undefined,
    federation: { name: 'org', signers: [identityPeerId(key)], partners: [{ name: 'acme', send: true }] },
  });
  const sidecar = await Sidecar.create(config, silentLogger());
  await sidecar.start();
  await waitUntil('streams ready', () => sidecar.publisher.state === 'connected', 15_000, 10);
  return sidecar;
}

/** (f) accept → signed → committed, events/s. */
export function measureFederation(sizes: Sizes): Promise<Sample> {
  return withNats((server) =>
    withTempDir(async (dir) => {
      const sidecar = await startFederationSidecar(dir, server.url);
      try {
        const intake = sidecar.federation?.intake ?? null;
        if (intake === null) throw new Error('(f): federation did not start');
        let committed = 0;
        sidecar.committer.on('intent:committed', (rows) => (committed += rows.length));
        const body = { partner: 'acme', type: 'bench.event', payload: jsonPayload() };
        const accept = (): Promise<unknown> => intake.accept(body);
        const waitCommitted = async (total: number, timeoutMs: number): Promise<void> => {
          await waitUntil(`${total} committed events`, () => committed >= total, timeoutMs, 2);
          await waitUntil(`${total} committed rows`, () => sidecar.outbox.counts('command').committed >= total, 10_000);
        };
        await within('(f) warm-up', budgetMs(sizes.warmup), closedLoop(sizes.warmup, WINDOW, accept));
        await waitCommitted(sizes.warmup, budgetMs(sizes.warmup));
        const started = performance.now();
        await within('(f) accepts', budgetMs(sizes.netsync), closedLoop(sizes.netsync, WINDOW, accept));
        const acceptSeconds = (performance.now() - started) / 1_000;
        await waitCommitted(sizes.warmup + sizes.netsync, budgetMs(sizes.netsync));
        return sampleSince(sizes.netsync, started, { acceptOnlyRate: Math.round(sizes.netsync / acceptSeconds) });
      } finally {
        await sidecar.stop();
      }
    }),
  );
}
