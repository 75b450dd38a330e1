/**
 * Scenario A: NATS goes away while the agent keeps submitting. Variant `cut`: the sidecar↔NATS
 * link is cut at the proxy (connections closed, new ones refused). Variant `kill`: nats-server
 * is SIGKILLed and restarted later on the same port and store dir. Intents are accepted
 * throughout, buffered, and replayed exactly once after the heal.
 */
import { assertClean, hold, lastAcked, withRun, type ScenarioResult } from '../harness/scenario.js';

/** Sizes of one run. */
export interface ScenarioAParams {
  loadMs: number;
  ratePerSec: number;
  /** Outage length range, ms. */
  outageMs: [number, number];
}

export const A_FULL: ScenarioAParams = { loadMs: 20_000, ratePerSec: 60, outageMs: [5_000, 8_000] };
export const A_FAST: ScenarioAParams = { loadMs: 8_000, ratePerSec: 40, outageMs: [2_000, 3_000] };

/** Runs scenario A once; asserts the oracle. */
export async function scenarioA(variant: 'cut' | 'kill', seed: number, p: ScenarioAParams): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('A', variant, seed, async (run) => {
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
    await hold(faults.range(0.15, 0.3) * p.loadMs);
    const outageMs = faults.range(...p.outageMs);
    if (variant === 'cut') await link.cut();
    else {
      nats.kill('SIGKILL');
      await nats.waitExit();
    }
    await hold(outageMs);
    const backlog = lastAcked(w);
    run.extra['outageMs'] = Math.round(outageMs);
    run.extra['ackedDuringOutage'] = w.attempts.filter((a) => a.outcome === 'acked').length;
    if (variant === 'cut') await link.heal();
    else await nats.restart();
    const recoveryMs = backlog === null ? null : await run.committedWithin(s1, backlog, 60_000);
    await w.done();
    const drainMs = await run.drained(s1, 60_000);
    result = await run.finish({ sidecars: [s1], natsUrls: [nats.url], workload: w, recoveryMs, drainMs });
    assertClean(result);
  });
  return result;
}
