import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TelemetryEmitter } from '../../../src/telemetry/telemetry-emitter.js';
import { createTelemetryMetrics } from '../../../src/telemetry/metrics.js';
import { NetSyncError } from '../../../src/core/errors.js';
import type { Envelope } from '../../../src/core/envelope.js';
import type { Gossip } from '../../../src/core/ports.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ManualClock } from '../../support/manual-clock.js';

/** Gossip that accepts, or refuses as with no peer subscribed. */
function gossip(refuse: boolean): Gossip & { sent: Envelope[] } {
  const sent: Envelope[] = [];
  return {
    peerId: '12D3KooWOrigin',
    sent,
    publish: async (env: Envelope) => {
      if (refuse) throw new NetSyncError('MESH_PUBLISH', 'no peers subscribed to the topic');
      sent.push(env);
    },
    onEnvelope: () => () => undefined,
  } as unknown as Gossip & { sent: Envelope[] };
}

async function unroutedAfter(opts: { refuse: boolean; scoutsHeard: boolean }, points: number): Promise<number> {
  const registry = new Registry();
  const metrics = createTelemetryMetrics(registry);
  const clock = new ManualClock();
  const emitter = new TelemetryEmitter({
    origin: '12D3KooWOrigin',
    clock,
    rules: { windowMs: 1_000, allowedLatenessMs: 500, maxPoints: 100_000 },
    batchMs: 100,
    batchMaxPoints: 4_096,
    maxQueuedPoints: 100_000,
    gossip: gossip(opts.refuse),
    localScout: null,
    scoutsHeard: () => opts.scoutsHeard,
    logger: silentLogger(),
    metrics,
  });
  emitter.accept(Array.from({ length: points }, (_, i) => ({ metric: 'm', value: i, ts: clock.now(), tags: {} })));
  await emitter.stop();
  return (await metrics.lost.get()).values[0]?.value ?? 0;
}

describe('TelemetryEmitter unrouted accounting', () => {
  it('counts each point once, whichever way it went unrouted', async () => {
    expect(await unroutedAfter({ refuse: false, scoutsHeard: true }, 5)).toBe(0);
    expect(await unroutedAfter({ refuse: true, scoutsHeard: true }, 5)).toBe(5);
    expect(await unroutedAfter({ refuse: false, scoutsHeard: false }, 5)).toBe(5);
    expect(await unroutedAfter({ refuse: true, scoutsHeard: false }, 5)).toBe(5);
  });
});
