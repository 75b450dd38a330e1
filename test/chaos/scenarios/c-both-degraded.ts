/**
 * Scenario C: everything degraded at once on the sidecar↔NATS link: 200–2000 ms of latency
 * (seeded per chunk, order kept), the link flapping (cut/up on a seeded schedule) and
 * nats-server SIGKILLed and restarted, all while the agent submits. Then the faults stop and
 * the backlog must drain exactly once. (The mesh links join this scenario in the consensus
 * variant; see scenario B for the mesh under partition.)
 */
import { assertClean, hold, lastAcked, withRun, type ScenarioResult } from '../harness/scenario.js';

/** Sizes of one run. */
export interface ScenarioCParams {
  loadMs: number;
  ratePerSec: number;
  natsRestarts: number;
}

export const C_FULL: ScenarioCParams = { loadMs: 40_000, ratePerSec: 40, natsRestarts: 2 };

/** Runs scenario C once; asserts the oracle. */
export async function scenarioC(seed: number, p: ScenarioCParams): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('C', 'latency+flap+restarts', seed, async (run) => {
    const faults = run.rng.fork('faults');
    const nats = await run.nats();
    const { link, s1 } = await run.sidecarViaProxy(nats);
    const w = run.workload({
      target: () => s1.apiUrl,
      proposers: 4,
      ratePerSec: p.ratePerSec,
      durationMs: p.loadMs,
      maxAttempts: Math.ceil((p.ratePerSec * p.loadMs) / 1000),
    });
    // Latency is one-way per chunk: 100–1000 ms each way, 200–2000 ms per round trip.
    link.setLatency(100, 1_000);
    const chaosMs = p.loadMs * 0.75;
    const flapping = link.flap({ upMs: [1_500, 5_000], downMs: [300, 2_500], kind: 'cut', durationMs: chaosMs });
    run.cleanup.push('flapping', () => flapping.stop());
    const restarts: number[] = [];
    for (let i = 0; i < p.natsRestarts; i++) {
      await hold(faults.range(0.2, 0.35) * chaosMs);
      nats.kill('SIGKILL');
      await nats.waitExit();
      const downMs = faults.range(1_000, 3_000);
      await hold(downMs);
      await nats.restart();
      restarts.push(Math.round(downMs));
    }
    await flapping.done;
    const backlog = lastAcked(w);
    link.clearShaping();
    await link.heal();
    const recoveryMs = backlog === null ? null : await run.committedWithin(s1, backlog, 90_000);
    await w.done();
    Object.assign(run.extra, {
      flapDowns: flapping.downs,
      natsRestartsDownMs: restarts,
      proxy: link.stats,
      unknownFoundByLookup: s1.logSum('resolved unknown outcomes from the stream', 'found'),
      unknownMissingByLookup: s1.logSum('resolved unknown outcomes from the stream', 'missing'),
    });
    const drainMs = await run.drained(s1, 90_000);
    result = await run.finish({ sidecars: [s1], natsUrls: [nats.url], workload: w, recoveryMs, drainMs });
    assertClean(result);
  });
  return result;
}
