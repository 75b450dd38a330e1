/**
 * Scenario G: soak. Sustained load for a bounded time with an outage in the middle, on a
 * stream with small retention limits (max-bytes and max-age), under stated budgets:
 * - sidecar RSS ≤ RSS_BUDGET_BYTES throughout;
 * - SQLite file (+WAL) ≤ SQLITE_BASE_BYTES + SQLITE_PER_ROW_BYTES per accepted intent (the outbox
 *   keeps committed rows for `buffer.retainSettledMs`, 48 h by default, far longer than a soak);
 * - the stream never holds more than its max-bytes, nor a message older than max-age (+ slack);
 * - the buffer drains to 0 within DRAIN_BUDGET_MS after the heal and after the load.
 * A tail reads every message as it is stored, so the oracle is exact even after retention.
 */
import { expect } from 'vitest';
import { waitFor } from '../../support/wait-for.js';
import { assertClean, hold, lastAcked, streamsConfig, withRun, type ScenarioResult } from '../harness/scenario.js';
import { StreamTail } from '../harness/stream-tail.js';

/** Sizes of one run. */
export interface ScenarioGParams {
  loadMs: number;
  ratePerSec: number;
  outageMs: number;
}

export const G_FULL: ScenarioGParams = { loadMs: 90_000, ratePerSec: 100, outageMs: 10_000 };

export const RSS_BUDGET_BYTES = 300 * 1024 * 1024;
export const SQLITE_BASE_BYTES = 8 * 1024 * 1024;
export const SQLITE_PER_ROW_BYTES = 2_048;
export const STREAM_MAX_BYTES = 1024 * 1024;
export const STREAM_MAX_AGE_MS = 20_000;
/** JetStream expires by age on a timer; allow this much past max-age. */
export const MAX_AGE_SLACK_MS = 5_000;
export const DRAIN_BUDGET_MS = 30_000;

/** Runs scenario G once; asserts the budgets and the oracle. */
export async function scenarioG(seed: number, p: ScenarioGParams): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('G', 'soak', seed, async (run) => {
    const faults = run.rng.fork('faults');
    const nats = await run.nats();
    const { link, s1 } = await run.sidecarViaProxy(nats, {
      streams: streamsConfig({ maxBytes: `${STREAM_MAX_BYTES}`, maxAge: `${STREAM_MAX_AGE_MS}ms` }),
    });
    const tail = await StreamTail.start([nats.url], 'COMMANDS');
    run.cleanup.push('stream tail', () => tail.stop());
    const jsm = await tail.connection.jetstreamManager();
    const peaks = { rssBytes: 0, sqliteBytes: 0, streamBytes: 0, oldestAgeMs: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peaks.rssBytes = Math.max(peaks.rssBytes, s1.rssBytes() ?? 0);
        peaks.sqliteBytes = Math.max(peaks.sqliteBytes, s1.bufferBytes());
        const st = (await jsm.streams.info('COMMANDS')).state;
        peaks.streamBytes = Math.max(peaks.streamBytes, st.bytes);
        if (st.messages > 0) peaks.oldestAgeMs = Math.max(peaks.oldestAgeMs, Date.now() - Date.parse(st.first_ts));
        await hold(1_000);
      }
    })();
    run.cleanup.push('sampler', async () => {
      sampling = false;
      await sampler.catch(() => undefined);
    });
    const w = run.workload({
      target: () => s1.apiUrl,
      proposers: 8,
      ratePerSec: p.ratePerSec,
      durationMs: p.loadMs,
      maxAttempts: Math.ceil((p.ratePerSec * p.loadMs) / 1000),
      padBytes: 256,
    });
    await hold(faults.range(0.3, 0.5) * p.loadMs);
    await link.cut();
    await hold(p.outageMs);
    const backlog = lastAcked(w);
    await link.heal();
    const recoveryMs = backlog === null ? null : await run.committedWithin(s1, backlog, DRAIN_BUDGET_MS);
    await w.done();
    const drainMs = await run.drained(s1, DRAIN_BUDGET_MS);
    await waitFor(
      async () => tail.lastSeq >= (await jsm.streams.info('COMMANDS')).state.last_seq,
      'the tail to reach the end of COMMANDS',
      30_000,
      100,
    );
    sampling = false;
    await sampler;
    const accepted = w.attempts.filter((a) => a.outcome === 'acked').length;
    const sqliteBudget = SQLITE_BASE_BYTES + SQLITE_PER_ROW_BYTES * accepted;
    const missing = tail.missingSeqs();
    Object.assign(run.extra, {
      peaks,
      budgets: {
        rssBytes: RSS_BUDGET_BYTES,
        sqliteBytes: sqliteBudget,
        streamMaxBytes: STREAM_MAX_BYTES,
        maxAgeMs: STREAM_MAX_AGE_MS + MAX_AGE_SLACK_MS,
        drainMs: DRAIN_BUDGET_MS,
      },
      streamFirstSeq: (await jsm.streams.info('COMMANDS')).state.first_seq,
      tailSeen: tail.entries.length,
      tailMissingSeqs: missing,
    });
    result = await run.finish({
      sidecars: [s1],
      natsUrls: [nats.url],
      workload: w,
      recoveryMs,
      drainMs,
      entries: tail.entries,
    });
    assertClean(result);
    expect(missing, 'stream sequences the tail never saw').toEqual([]);
    expect(peaks.rssBytes, 'sidecar RSS over budget').toBeLessThanOrEqual(RSS_BUDGET_BYTES);
    expect(peaks.sqliteBytes, 'SQLite file over budget').toBeLessThanOrEqual(sqliteBudget);
    expect(peaks.streamBytes, 'stream over its max-bytes').toBeLessThanOrEqual(STREAM_MAX_BYTES);
    expect(peaks.oldestAgeMs, 'a message older than max-age').toBeLessThanOrEqual(STREAM_MAX_AGE_MS + MAX_AGE_SLACK_MS);
  });
  return result;
}
