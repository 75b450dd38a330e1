/**
 * Scenario E: an outage longer than the stream's duplicate window (1 s). Publishes reach the
 * stream but their PubAcks are held (one-way blackhole), then the link is cut, so rows end
 * in flight with an unknown outcome; the outage then outlasts the window, so JetStream could no
 * longer drop a blind resend. Variant `link`: the sidecar survives; variant `crash`: it is also
 * SIGKILLed while its rows are in flight and restarted after the window. Nothing may be stored twice.
 */
import { assertClean, hold, lastAcked, streamsConfig, withRun, type ScenarioResult } from '../harness/scenario.js';

/** Sizes of one run. */
export interface ScenarioEParams {
  loadMs: number;
  ratePerSec: number;
  /** Outages per run. */
  outages: number;
  /** Outage length range, ms (≫ the 1 s window). */
  outageMs: [number, number];
}

export const E_FULL: ScenarioEParams = { loadMs: 24_000, ratePerSec: 80, outages: 3, outageMs: [2_500, 4_000] };

/** Runs scenario E once; asserts the oracle. */
export async function scenarioE(variant: 'link' | 'crash', seed: number, p: ScenarioEParams): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('E', variant, seed, async (run) => {
    const faults = run.rng.fork('faults');
    const nats = await run.nats();
    const { link, s1 } = await run.sidecarViaProxy(nats, { streams: streamsConfig({ duplicateWindow: '1s' }) });
    const w = run.workload({
      target: () => s1.apiUrl,
      proposers: 4,
      ratePerSec: p.ratePerSec,
      durationMs: p.loadMs,
      maxAttempts: Math.ceil((p.ratePerSec * p.loadMs) / 1000),
    });
    const slot = p.loadMs / (p.outages + 1);
    const inFlightAtCut: number[] = [];
    const recoveries: number[] = [];
    for (let i = 0; i < p.outages; i++) {
      await hold(faults.range(0.2, 0.4) * slot);
      link.blackhole('toClient');
      await hold(faults.range(300, 900));
      inFlightAtCut.push((await s1.outboxCounts())?.['in-flight'] ?? -1);
      if (variant === 'crash') await s1.crash();
      await link.cut();
      await hold(faults.range(...p.outageMs));
      const backlog = lastAcked(w);
      await link.heal();
      if (variant === 'crash') await s1.restart();
      if (backlog !== null) recoveries.push(await run.committedWithin(s1, backlog, 60_000));
    }
    await w.done();
    run.extra['inFlightAtCut'] = inFlightAtCut;
    run.extra['recoveriesMs'] = recoveries;
    // Rows whose PubAck was lost, found in the stream by lookup instead of being resent.
    run.extra['unknownFoundByLookup'] = s1.logSum('resolved unknown outcomes from the stream', 'found');
    run.extra['unknownMissingByLookup'] = s1.logSum('resolved unknown outcomes from the stream', 'missing');
    const drainMs = await run.drained(s1, 60_000);
    result = await run.finish({
      sidecars: [s1],
      natsUrls: [nats.url],
      workload: w,
      recoveryMs: recoveries.length === 0 ? null : Math.max(...recoveries),
      drainMs,
    });
    assertClean(result);
  });
  return result;
}
