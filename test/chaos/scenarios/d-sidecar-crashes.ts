/**
 * Scenario D: the sidecar is SIGKILLed again and again, at random moments of SQLite writes
 * (the agent keeps submitting) and of replay (just after NATS came back with a backlog), and
 * restarted each time on the same buffer file, key and port. Ends with a drain and a reconcile.
 */
import { waitFor } from '../../support/wait-for.js';
import { assertClean, hold, withRun, type ScenarioResult } from '../harness/scenario.js';

/** Sizes of one run. */
export interface ScenarioDParams {
  kills: number;
  ratePerSec: number;
  /** Upper bound on the whole kill loop; it normally stops at `kills` long before (≈ 30–60 s fast). */
  maxMs: number;
}

export const D_FULL: ScenarioDParams = { kills: 24, ratePerSec: 100, maxMs: 180_000 };
export const D_FAST: ScenarioDParams = { kills: 20, ratePerSec: 80, maxMs: 150_000 };

/** Runs scenario D once; asserts the oracle. */
export async function scenarioD(seed: number, p: ScenarioDParams): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('D', 'kill-loop', seed, async (run) => {
    const faults = run.rng.fork('faults');
    const nats = await run.nats();
    // Quick reconnects so that many replays fit in the run; the fault is the crash, not the wait.
    const { link, s1 } = await run.sidecarViaProxy(nats, {
      env: { NET_SYNC_NATS_RECONNECT_WAIT_MS: '200', NET_SYNC_NATS_RECONNECT_JITTER_MS: '200' },
    });
    const w = run.workload({
      target: () => s1.apiUrl,
      proposers: 4,
      ratePerSec: p.ratePerSec,
      durationMs: p.maxMs,
      maxAttempts: Math.ceil((p.ratePerSec * p.maxMs) / 1000),
      timeoutMs: 2_000,
    });
    const deadline = Date.now() + p.maxMs;
    const kills = { write: 0, replay: 0, backlogAtReplayKill: [] as number[] };
    for (let i = 0; i < p.kills && Date.now() < deadline; i++) {
      if (faults.next() < 0.5) {
        await hold(faults.range(100, 800));
        kills.write++;
      } else {
        // Build a backlog with NATS away, then kill as soon as replay has begun.
        await link.cut();
        await hold(faults.range(400, 1_200));
        const before = (await s1.outboxCounts())?.committed ?? 0;
        await link.heal();
        await waitFor(
          async () => ((await s1.outboxCounts())?.committed ?? 0) > before,
          `replay to begin on s1 (kill ${i})`,
          15_000,
          10,
        );
        await hold(faults.range(0, 30));
        const c = await s1.outboxCounts();
        kills.backlogAtReplayKill.push((c?.['pending-commit'] ?? 0) + (c?.['in-flight'] ?? 0));
        kills.replay++;
      }
      await s1.crash();
      await s1.restart();
    }
    await w.stop();
    run.extra['kills'] = kills.write + kills.replay;
    run.extra['killsDuringWrites'] = kills.write;
    run.extra['killsDuringReplay'] = kills.replay;
    run.extra['backlogAtReplayKill'] = kills.backlogAtReplayKill;
    const drainMs = await run.drained(s1, 60_000);
    result = await run.finish({ sidecars: [s1], natsUrls: [nats.url], workload: w, recoveryMs: drainMs, drainMs });
    assertClean(result);
    if (kills.write + kills.replay < p.kills)
      throw new Error(`only ${kills.write + kills.replay} of ${p.kills} kills within ${p.maxMs} ms`);
  });
  return result;
}
