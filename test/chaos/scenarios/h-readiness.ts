/**
 * Scenario H: `GET /readyz` turns 503 within 5 s of losing NATS and 200 again after recovery,
 * under a light load (which the oracle judges too). Variants: the link is cut at the proxy,
 * nats-server is SIGKILLed (restarted on the same port and store), nats-server is frozen
 * (SIGSTOP/SIGCONT), and the link is blackholed (no RST, no FIN: the common real partition).
 */
import { expect } from 'vitest';
import { waitFor } from '../../support/wait-for.js';
import { assertClean, hold, lastAcked, withRun, type ScenarioResult } from '../harness/scenario.js';

export type HVariant = 'cut' | 'kill' | 'freeze' | 'blackhole';

/** Stated budgets. */
export const READY_LOSS_BUDGET_MS = 5_000;
/** Recovery: reconnect wait (0.25 s) + jitter (0.25 s) + stream check, with plenty of room for a loaded box. */
export const READY_BACK_BUDGET_MS = 15_000;

/** Runs scenario H once; asserts both budgets and the oracle. */
export async function scenarioH(variant: HVariant, seed: number): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('H', variant, seed, async (run) => {
    const faults = run.rng.fork('faults');
    const nats = await run.nats();
    const { link, s1 } = await run.sidecarViaProxy(nats);
    const w = run.workload({
      target: () => s1.apiUrl,
      proposers: 2,
      ratePerSec: 20,
      durationMs: 60_000,
      maxAttempts: 1_200,
    });
    await hold(faults.range(1_000, 2_000));
    const lostAt = Date.now();
    if (variant === 'cut') await link.cut();
    else if (variant === 'blackhole') link.blackhole('both');
    else if (variant === 'freeze') nats.kill('SIGSTOP');
    else {
      nats.kill('SIGKILL');
      await nats.waitExit();
    }
    let lossMs: number | null = null;
    try {
      await waitFor(
        async () => !(await s1.ready()),
        `/readyz of s1 to turn 503 after the ${variant}`,
        READY_LOSS_BUDGET_MS + 25_000,
        100,
      );
      lossMs = Date.now() - lostAt;
    } catch {
      // reported below against the budget
    }
    await hold(Math.max(0, faults.range(4_000, 6_000) - (Date.now() - lostAt)));
    const backlog = lastAcked(w);
    const healAt = Date.now();
    if (variant === 'cut' || variant === 'blackhole') await link.heal();
    else if (variant === 'freeze') nats.kill('SIGCONT');
    else await nats.restart();
    await waitFor(() => s1.ready(), `/readyz of s1 to turn 200 after the heal (${variant})`, 60_000, 100);
    const backMs = Date.now() - healAt;
    const recoveryMs = backlog === null ? null : await run.committedWithin(s1, backlog, 60_000);
    await w.stop();
    run.extra['readyLossMs'] = lossMs;
    run.extra['readyBackMs'] = backMs;
    run.extra['budgets'] = { readyLossMs: READY_LOSS_BUDGET_MS, readyBackMs: READY_BACK_BUDGET_MS };
    const drainMs = await run.drained(s1, 60_000);
    result = await run.finish({ sidecars: [s1], natsUrls: [nats.url], workload: w, recoveryMs, drainMs });
    assertClean(result);
    expect(
      lossMs,
      `/readyz still 200 ${READY_LOSS_BUDGET_MS} ms after the ${variant} (turned 503 after ${lossMs ?? 'never'} ms)`,
    ).not.toBeNull();
    expect(lossMs!, `/readyz turned 503 only ${lossMs} ms after the ${variant}`).toBeLessThanOrEqual(
      READY_LOSS_BUDGET_MS,
    );
    expect(backMs, `/readyz back to 200 ${backMs} ms after the heal`).toBeLessThanOrEqual(READY_BACK_BUDGET_MS);
  });
  return result;
}
