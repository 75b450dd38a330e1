import { describe, expect, it } from 'vitest';
import { type MeshProbe, PeerHealthReporter } from '../../../src/telemetry/peer-health.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';

function reporter(captured: (s: string) => boolean, mesh: MeshProbe | null = null) {
  const outbox = new MemoryOutbox();
  const r = new PeerHealthReporter({
    peerId: 'me',
    prefix: 'root.solar',
    clock: new ManualClock(),
    outbox,
    wakeCommitter: () => undefined,
    intervalMs: 10_000,
    mesh,
    validatorRejects: async () => ({}),
    scouts: () => ({ live: [], expected: 0 }),
    captured,
    logger: silentLogger(),
  });
  return { r, outbox };
}

describe('PeerHealthReporter', () => {
  it('writes peer health and pipeline lag as telemetry rows', async () => {
    const { r, outbox } = reporter(() => true);
    await r.report();
    const rows = outbox.listByState(['pending-commit'], 10);
    expect(rows.map((x) => x.subject).sort()).toEqual([
      'root.solar.observability.pipeline.lag',
      'root.solar.telemetry.libp2p.peer.health',
    ]);
    expect(rows.every((x) => x.kind === 'telemetry')).toBe(true);
  });

  it('does not write reports that no configured stream would capture (they could only go dead)', async () => {
    const { r, outbox } = reporter((s) => s.includes('.telemetry.'));
    await r.report();
    expect(outbox.listByState(['pending-commit'], 10).map((x) => x.subject)).toEqual([
      'root.solar.telemetry.libp2p.peer.health',
    ]);
  });

  it("reads the connection monitor's RTT where it has one, and pings only the other peers", async () => {
    const pinged: string[] = [];
    const mesh: MeshProbe = {
      topic: '/t',
      peers: () => ['a', 'b'],
      meshPeers: () => ['a'],
      ping: async (p) => {
        pinged.push(p);
        return 7;
      },
      rtt: (p) => (p === 'a' ? 3 : undefined),
      scores: () => ({}),
    };
    const { r, outbox } = reporter((s) => s.includes('.telemetry.'), mesh);
    await r.report();
    const [row] = outbox.listByState(['pending-commit'], 10);
    expect(JSON.parse(new TextDecoder().decode(row!.body)).pingRttMs).toEqual({ a: 3, b: 7 });
    expect(pinged).toEqual(['b']);
  });
});
