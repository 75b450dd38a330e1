/**
 * Scenario F: a 3-node JetStream cluster with an R3 COMMANDS stream; the stream leader (found
 * with `jsm.streams.info(...).cluster.leader`) is SIGKILLed under load, twice, and restarted
 * on the same port and store. The sidecar reaches each server through its own fault proxy.
 */
import { connect } from 'nats';
import { waitFor } from '../../support/wait-for.js';
import { assertClean, hold, lastAcked, streamsConfig, withRun, type ScenarioResult } from '../harness/scenario.js';

/** Sizes of one run. */
export interface ScenarioFParams {
  loadMs: number;
  ratePerSec: number;
  leaderKills: number;
  downMs: [number, number];
}

export const F_FULL: ScenarioFParams = { loadMs: 30_000, ratePerSec: 60, leaderKills: 2, downMs: [3_000, 6_000] };

/** The server name (`n1`…) leading `stream`, asked of any live server. */
async function streamLeader(urls: string[], stream: string): Promise<string> {
  const nc = await connect({ servers: urls, timeout: 5_000, noAsyncTraces: true });
  try {
    const jsm = await nc.jetstreamManager({ timeout: 5_000 });
    const info = await jsm.streams.info(stream);
    const leader = info.cluster?.leader;
    if (leader === undefined) throw new Error(`${stream} has no leader`);
    return leader;
  } finally {
    await nc.close();
  }
}

/** Runs scenario F once; asserts the oracle. */
export async function scenarioF(seed: number, p: ScenarioFParams): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('F', 'leader-kill', seed, async (run) => {
    const faults = run.rng.fork('faults');
    const cluster = await run.cluster(3);
    const links = [];
    for (const [i, s] of cluster.servers.entries())
      links.push(await run.proxy(`s1→n${i + 1}`, { host: s.host, port: s.port }));
    const s1 = await run.sidecar({
      name: 's1',
      natsServers: links.map((l) => l.natsUrl),
      configFile: run.configFile('streams.yaml', streamsConfig({ replicas: 3 })),
    });
    await waitFor(() => s1.ready(), 's1 ready before the load', 30_000, 100);
    const w = run.workload({
      target: () => s1.apiUrl,
      proposers: 4,
      ratePerSec: p.ratePerSec,
      durationMs: p.loadMs,
      maxAttempts: Math.ceil((p.ratePerSec * p.loadMs) / 1000),
    });
    const killed: string[] = [];
    const recoveries: number[] = [];
    const slot = p.loadMs / (p.leaderKills + 1);
    for (let k = 0; k < p.leaderKills; k++) {
      await hold(faults.range(0.3, 0.5) * slot);
      const leader = await streamLeader(cluster.urls, 'COMMANDS');
      const victim = cluster.servers[Number(leader.replace(/^n/, '')) - 1];
      if (victim === undefined) throw new Error(`leader ${leader} is not one of ours`);
      killed.push(leader);
      victim.kill('SIGKILL');
      await victim.waitExit();
      await hold(faults.range(...p.downMs));
      const backlog = lastAcked(w);
      await victim.restart();
      if (backlog !== null) recoveries.push(await run.committedWithin(s1, backlog, 60_000));
      // The restarted server catches up before the next kill (a new leader exists).
      await waitFor(
        async () => (await streamLeader(cluster.urls, 'COMMANDS').catch(() => '')) !== '',
        'COMMANDS to have a leader again',
        30_000,
        200,
      );
    }
    await w.done();
    run.extra['killedLeaders'] = killed;
    run.extra['recoveriesMs'] = recoveries;
    run.extra['unknownFoundByLookup'] = s1.logSum('resolved unknown outcomes from the stream', 'found');
    const drainMs = await run.drained(s1, 60_000);
    result = await run.finish({
      sidecars: [s1],
      natsUrls: cluster.urls,
      workload: w,
      recoveryMs: recoveries.length === 0 ? null : Math.max(...recoveries),
      drainMs,
    });
    assertClean(result);
  });
  return result;
}
