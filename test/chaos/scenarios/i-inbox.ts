/**
 * Scenario I: the inbox under faults. Three sidecars form a cohort with quorum 2; s1 and s2
 * take the agents' intents, s3 runs the inbox and pushes every committed command to a real HTTP
 * agent that answers by the command's mode (ok, retry-once, drop, fail; seeded per intent).
 * Faults at seeded random points, bounded in count and time: s3 SIGKILLed and restarted on
 * the same buffer, key and port, and nats-server SIGKILLed and restarted on the same store.
 * The inbox oracle (harness/inbox-oracle.ts) judges every command in the stream: lost = 0,
 * applied twice = 0 (save the SIGKILL excuse), dead-lettered exactly once for drop and fail and
 * never otherwise; the usual oracle judges the intents' way in.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { freePort } from '../../../src/devkit/nats-server-process.js';
import type { NatsServerProcess } from '../../../src/devkit/nats-server-process.js';
import type { SidecarProcess } from '../../support/sidecar-process.js';
import { readStream as readMessages } from '../../support/stream-contents.js';
import { TestAgent } from '../../support/test-agent.js';
import { waitFor } from '../../support/wait-for.js';
import { type AgentMode, type InboxOracleReport, type InboxSidecarKill, judgeInbox } from '../harness/inbox-oracle.js';
import { keygen } from '../harness/keygen.js';
import { readStream } from '../harness/oracle.js';
import { Prng } from '../harness/prng.js';
import {
  assertClean,
  hold,
  type ScenarioResult,
  type ScenarioRun,
  streamsConfig,
  withRun,
} from '../harness/scenario.js';

/** Sizes of one run. */
export interface ScenarioIParams {
  loadMs: number;
  ratePerSec: number;
  /** SIGKILLs of the inbox sidecar, and nats-server restarts, within the load. */
  inboxKills: number;
  natsRestarts: number;
  /** How long each fault keeps its part down, ms. */
  downMs: [number, number];
  /** Bound on waiting for every command to be applied or dead-lettered after the load, ms. */
  settleMs: number;
}

export const I_FULL: ScenarioIParams = {
  loadMs: 60_000,
  ratePerSec: 20,
  inboxKills: 5,
  natsRestarts: 3,
  downMs: [200, 3_000],
  settleMs: 120_000,
};
export const I_FAST: ScenarioIParams = {
  loadMs: 15_000,
  ratePerSec: 12,
  inboxKills: 2,
  natsRestarts: 1,
  downMs: [200, 1_500],
  settleMs: 45_000,
};

// The agent's behaviours, weighted: mostly ok, every other kind often enough to meet the faults.
const MODES: readonly AgentMode[] = ['ok', 'ok', 'ok', 'ok', 'ok', 'retry-once', 'retry-once', 'drop', 'fail'];

const INBOX_ENV: Readonly<Record<string, string>> = {
  NET_SYNC_INBOX_SUBJECTS: 'root.solar.command.>',
  NET_SYNC_INBOX_ACK_WAIT_MS: '1000',
  NET_SYNC_INBOX_MAX_DELIVER: '5',
  NET_SYNC_INBOX_BACKOFF_MS: '200',
  NET_SYNC_INBOX_PROCESSING_TIMEOUT_MS: '5000',
  NET_SYNC_INBOX_MAX_ACK_PENDING: '8',
};

// Quick reconnects and commit retries: the faults are the kills, not the waits after them. An
// endorser SIGKILLed while its peers commit misses the announcement, and its copy stays
// `proposed` until the intent's TTL, when it is looked up in the stream: 5 s settles it in the run.
const SIDECAR_ENV: Readonly<Record<string, string>> = {
  NET_SYNC_NATS_RECONNECT_WAIT_MS: '200',
  NET_SYNC_NATS_RECONNECT_JITTER_MS: '100',
  NET_SYNC_COMMIT_BACKOFF_MAX_MS: '500',
  NET_SYNC_CONSENSUS_TTL_MS: '5000',
};

/** The agent's mode for the workload intent `key`: fixed by the seed and the key alone. */
export function modeOf(seed: number, key: string): AgentMode {
  return new Prng(seed).fork(`mode:${key}`).pick(MODES);
}

/** Runs scenario I once; asserts both oracles. */
export async function scenarioI(seed: number, p: ScenarioIParams): Promise<ScenarioResult> {
  let result!: ScenarioResult;
  await withRun('I', 'inbox', seed, async (run) => {
    const nats = await run.nats();
    const agent = new TestAgent();
    await agent.start();
    run.cleanup.push('test agent', () => agent.stop());
    const sidecars = await startCohort(run, nats, agent.url);
    const s3 = sidecars[2]!;
    const w = run.workload({
      target: (i) => sidecars[i % 2]!.apiUrl,
      proposers: 4,
      ratePerSec: p.ratePerSec,
      durationMs: p.loadMs,
      maxAttempts: Math.ceil((p.ratePerSec * p.loadMs) / 1000),
      extraPayload: (key) => ({ mode: modeOf(seed, key) }),
    });
    const kills = await injectFaults(run, p, nats, s3);
    await w.done();

    const settleStarted = Date.now();
    await settled(run, sidecars, p.settleMs);
    const settleMs = Date.now() - settleStarted;
    const drainMs = settleMs;
    const entries = await readStream([nats.url], 'root.solar.command.>', run.startedAtMs - 60_000);
    const noticeEntries = await readStream([nats.url], 'root.solar.deadletter.>', run.startedAtMs - 60_000);
    const { inbox, backstopNotices, advisoryNotices } = await judgeNow(nats.url, seed, entries, agent, kills);
    const pushesJudged = agent.received.length;
    Object.assign(run.extra, {
      inboxKills: kills.length,
      natsRestarts: p.natsRestarts,
      settleMs,
      inbox: { ...inbox, examples: undefined },
      // Notices of commands whose last delivery s3 did not live to settle: from the backstop
      // delivery (in band), or from the advisory when nats-server counted that one into a pull
      // request of the dead s3 (docs/inbox.md).
      backstopNotices,
      advisoryNotices,
      redeliveries: agent.received.filter((r) => r.deliveryCount > 1).length,
      ...(findings(inbox).length === 0
        ? {}
        : { inboxExamples: inbox.examples, inboxTimelines: timelines(findings(inbox), agent, kills, run.startedAtMs) }),
    });
    console.log(`[chaos] inbox ${inboxTable(inbox)}`);
    result = await run.finish({
      sidecars,
      natsUrls: [nats.url],
      workload: w,
      recoveryMs: null,
      drainMs,
      noticeEntries,
    });
    assertClean(result);
    expect(inbox.lost, `lost: ${inbox.examples.lost.join('; ')}`).toBe(0);
    expect(inbox.appliedTwice, `applied twice: ${inbox.examples.appliedTwice.join('; ')}`).toBe(0);
    expect(inbox.wrongDeadLetters, `dead letters: ${inbox.examples.wrongDeadLetters.join('; ')}`).toBe(0);
    expect(inbox.wrongApplied, 'drop/fail commands applied').toBe(0);
    expect(inbox.strayNotices, `stray notices: ${inbox.examples.strayNotices.join('; ')}`).toBe(0);
    expect(inbox.unverifiedPushes, 'pushes of unverified commands').toBe(0);
    expect(inbox.commands, 'commands in the stream').toBe(result.oracle.committed);
    // Nothing pushed once no sidecar runs: the judged pushes were all of them.
    expect(agent.received.length, 'pushes after the inbox was judged').toBe(pushesJudged);
    expect(kills.length, 'SIGKILLs of the inbox sidecar').toBe(p.inboxKills);
  });
  return result;
}

// s1, s2 (intents) and s3 (inbox) in a full mesh on loopback, cohort of three, quorum 2.
async function startCohort(run: ScenarioRun, nats: NatsServerProcess, agentUrl: string): Promise<SidecarProcess[]> {
  const names = ['s1', 's2', 's3'];
  const peerIds = await Promise.all(names.map((n) => keygen(join(run.dir, `${n}.key`))));
  const ports = await Promise.all(names.map(() => freePort()));
  const cfg = run.configFile('streams.yaml', streamsConfig());
  const sidecars: SidecarProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const peers = [0, 1, 2].filter((j) => j !== i).map((j) => `/ip4/127.0.0.1/tcp/${ports[j]}/p2p/${peerIds[j]}`);
    sidecars.push(
      await run.sidecar({
        name: names[i]!,
        natsServers: [nats.url],
        configFile: cfg,
        env: {
          ...SIDECAR_ENV,
          NET_SYNC_MESH_ENABLED: 'true',
          NET_SYNC_MESH_LISTEN: `/ip4/127.0.0.1/tcp/${ports[i]}`,
          NET_SYNC_MESH_PEERS: peers.join(','),
          NET_SYNC_CONSENSUS_COHORT: peerIds.join(','),
          NET_SYNC_CONSENSUS_QUORUM: '2',
          ...(i === 2 ? { ...INBOX_ENV, NET_SYNC_INBOX_PUSH_URL: agentUrl } : {}),
        },
      }),
    );
  }
  for (const s of sidecars) await waitFor(() => s.ready(), `${s.name} ready`, 30_000, 100);
  await waitFor(
    async () => (await Promise.all(sidecars.map((s) => s.status()))).every((st) => (st?.mesh?.peers ?? 0) >= 2),
    'every node to see 2 mesh peers',
    30_000,
    200,
  );
  return sidecars;
}

/**
 * The fault schedule: `inboxKills` SIGKILLs of s3 and `natsRestarts` nats-server SIGKILLs, in a
 * seeded order at seeded points of the load, one at a time; each keeps its part down for a
 * seeded while. Returns each SIGKILL of s3 and when its restart began, ms since epoch.
 */
async function injectFaults(
  run: ScenarioRun,
  p: ScenarioIParams,
  nats: NatsServerProcess,
  s3: SidecarProcess,
): Promise<InboxSidecarKill[]> {
  const rng = run.rng.fork('faults');
  const kinds = [...Array<string>(p.inboxKills).fill('kill-inbox'), ...Array<string>(p.natsRestarts).fill('nats')];
  const plan = kinds
    .map((kind) => ({ kind, key: rng.next() }))
    .sort((a, b) => a.key - b.key)
    .map(({ kind }) => ({ kind, atMs: rng.range(0.1, 0.85) * p.loadMs }))
    .sort((a, b) => a.atMs - b.atMs);
  const started = Date.now();
  // Bounded: a slow restart delays the rest, never past the load plus this much.
  const deadline = started + p.loadMs + 30_000;
  const kills: InboxSidecarKill[] = [];
  const downs: Array<{ kind: string; downMs: number }> = [];
  for (const f of plan) {
    await hold(started + f.atMs - Date.now());
    if (Date.now() > deadline) break;
    const downMs = rng.range(...p.downMs);
    if (f.kind === 'kill-inbox') {
      const atMs = Date.now();
      await s3.crash();
      await hold(downMs);
      kills.push({ atMs, restartedAtMs: Date.now() });
      await s3.start();
    } else {
      nats.kill('SIGKILL');
      await nats.waitExit();
      await hold(downMs);
      await nats.restart();
    }
    downs.push({ kind: f.kind, downMs: Math.round(downMs) });
  }
  run.extra['faults'] = downs;
  return kills;
}

// Every outbox drained (intents and notices published) and s3's consumer with nothing pending
// or unacknowledged, all at once.
async function settled(run: ScenarioRun, sidecars: SidecarProcess[], timeoutMs: number): Promise<void> {
  const s3 = sidecars[2]!;
  let last: unknown;
  await waitFor(
    async () => {
      const counts = await Promise.all(sidecars.map((s) => s.outboxCounts()));
      const drained = counts.every(
        (c) => c !== undefined && c['pending-commit'] === 0 && c['in-flight'] === 0 && (c['proposed'] ?? 0) === 0,
      );
      const st = (await s3.get('/v1/status').catch(() => undefined))?.json as
        | { inbox?: { consumers: Array<{ lag: number }>; results: Record<string, number> } }
        | undefined;
      const consumers = st?.inbox?.consumers ?? [];
      last = { counts, inbox: st?.inbox };
      return drained && consumers.length > 0 && consumers.every((c) => c.lag === 0);
    },
    `every outbox drained and s3's inbox consumer caught up (last ${JSON.stringify(last)})`,
    timeoutMs,
    250,
  ).catch((err: Error) => {
    // Judge anyway: the oracle names what is missing.
    run.extra['settleTimeout'] = `${err.message}; last ${JSON.stringify(last)}`;
  });
}

async function judgeNow(
  natsUrl: string,
  seed: number,
  entries: Awaited<ReturnType<typeof readStream>>,
  agent: TestAgent,
  kills: InboxSidecarKill[],
): Promise<{ inbox: InboxOracleReport; backstopNotices: number; advisoryNotices: number }> {
  const notices = (await readMessages(natsUrl, 'root.solar.deadletter.>')).messages
    .map(
      (m) => JSON.parse(new TextDecoder().decode(m.data)) as { stage?: string; correlationId: string; reason: string },
    )
    .filter((n) => n.stage === 'delivery');
  const inbox = judgeInbox({
    commands: entries.map((e) => ({
      correlationId: e.msgId ?? `(no msg id, #${e.seq})`,
      mode: e.key === null ? 'unknown' : modeOf(seed, e.key),
      seq: e.seq,
    })),
    pushes: agent.received,
    notices,
    kills,
  });
  return {
    inbox,
    backstopNotices: notices.filter((n) => n.reason.endsWith(', no answer')).length,
    advisoryNotices: notices.filter((n) => n.reason.endsWith(', no answer (advisory)')).length,
  };
}

// The IDs the inbox oracle named, at most 10.
function findings(r: InboxOracleReport): string[] {
  const all = [...r.examples.lost, ...r.examples.appliedTwice, ...r.examples.wrongDeadLetters];
  return [...new Set(all.map((e) => e.split(' ', 1)[0]!))].slice(0, 10);
}

// For a post-mortem: each push of `ids` and the SIGKILLs of s3, in ms since the run began.
function timelines(ids: string[], agent: TestAgent, kills: InboxSidecarKill[], t0: number): Record<string, unknown> {
  const out: Record<string, unknown> = { kills: kills.map((k) => `${k.atMs - t0}-${k.restartedAtMs - t0}`) };
  for (const id of ids)
    out[id] = agent.received
      .filter((r) => r.correlationId === id)
      .map((r) => `dc${r.deliveryCount} ${r.arrivedAtMs - t0}-${r.atMs - t0}${r.applied ? ' applied' : ''}`);
  return out;
}

function inboxTable(r: InboxOracleReport): string {
  const modes = Object.entries(r.byMode)
    .map(([m, n]) => `${m} ${n}`)
    .join(', ');
  return (
    `commands ${r.commands} (${modes}), pushes ${r.pushes}, applied ${r.applied}, dead-lettered ${r.deadLettered}, ` +
    `lost ${r.lost}, applied twice ${r.appliedTwice} (+${r.excused} excused), wrong dead letters ${r.wrongDeadLetters}`
  );
}
