/**
 * `net-sync demo` on embedded defaults: a local nats-server plus a few sidecars. Intents are
 * committed, NATS is killed while intents keep arriving (they buffer), NATS restarts, the
 * buffers replay, one intent goes all the way back in to an agent through the inbox, and
 * reconcile plus a stream read-back prove nothing was lost or duplicated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteOutbox } from '../buffer/index.js';
import type { NatsServerProcess } from './nats-server-process.js';
import { ConfigSchema } from '../config/schema.js';
import { createFileLogger, type Logger } from '../observability/logger.js';
import { SystemClock } from '../runtime/system-clock.js';
import { openAdminSession } from '../service/admin-session.js';
import { DemoAgent } from './demo-agent.js';
import { ok, startDemoCluster, stopSidecars, type DemoSidecar } from './demo-cluster.js';
import { type DemoLoop, loopInboxEnv, loopLine, runLoopStep } from './demo-loop.js';
import { bufferedIntents, bufferedLine, openRows } from './demo-probes.js';
import { reconcileOutbox } from '../service/reconcile-outbox.js';

/** Options of `net-sync demo` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface DemoOptions {
  /** --intents: intents submitted while NATS is up. */
  intents: number;
  /** --outage-intents: intents submitted while NATS is away. */
  outageIntents: number;
  /** --sidecars: sidecar processes to run. */
  sidecars: number;
  /** --keep: keep the temp dir (stores, logs) instead of deleting it. */
  keep: boolean;
  /** Endorse over the libp2p mesh with a majority quorum (default); --no-mesh: each sidecar commits alone. */
  mesh: boolean;
}

/** One row of the demo's summary. */
export interface DemoPhase {
  phase: string;
  accepted: number;
  committed: number;
  seconds: number;
}

/** What the demo proved. */
export interface DemoSummary {
  dir: string | null;
  sidecars: Array<{ name: string; peerId: string; api: string }>;
  phases: DemoPhase[];
  stream: { messages: number; distinctIds: number; duplicates: number; lost: number };
  /** The loop back in (phase 4), with the copies of its intent the stream holds. */
  inbox: DemoLoop & { copiesInStream: number };
  reconcile: Array<{ sidecar: string; aligned: boolean; verified: number; lost: number }>;
  ok: boolean;
  /** The progress lines, one per step, as told on a terminal. */
  story: string[];
}

const SUBJECT = 'root.solar.command.sentiment.set';

/** Submits `n` intents round-robin; `ids[i]` was submitted to `sidecars[i % sidecars.length]`. */
async function submit(sidecars: DemoSidecar[], n: number, tag: string): Promise<string[]> {
  const ids: string[] = new Array<string>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const s = sidecars[i % sidecars.length]!;
      const res = await fetch(`http://${s.api}/v1/intents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          subject: SUBJECT,
          payload: { agent: s.name, phase: tag, i, sentiment: Math.round(Math.sin(i) * 100) / 100 },
        }),
      });
      if (res.status !== 202) throw new Error(`${s.name} refused intent ${i}: HTTP ${res.status} ${await res.text()}`);
      ids[i] = ((await res.json()) as { correlationId: string }).correlationId;
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return ids;
}

async function showEndorsers(s: DemoSidecar, id: string, say: (line: string) => void): Promise<void> {
  const res = await fetch(`http://${s.api}/v1/intents/${id}`);
  if (!res.ok) throw new Error(`demo: ${s.name} answered HTTP ${res.status} for intent ${id}: ${await res.text()}`);
  const view = (await res.json()) as { state: string; streamSeq?: number; endorsements: Array<{ peerId: string }> };
  const who = view.endorsements.map((e) => e.peerId.slice(-8)).join(', ');
  say(
    `         intent ${id} on ${s.name}: ${view.state} at COMMANDS#${view.streamSeq ?? '?'}, ` +
      `endorsed by [${who || 'itself (consensus off)'}]`,
  );
}

async function waitUntil(cond: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Runs the demo; `say` receives one progress line per step, for humans. The demo's own logs go
 * to `demo.log` beside the sidecars' logs, never to the terminal the story is told on.
 */
export async function runDemoScenario(
  opts: DemoOptions,
  logger: Logger,
  say: (line: string) => void,
): Promise<DemoSummary> {
  const dir = mkdtempSync(join(tmpdir(), 'net-sync-demo-'));
  const log = createFileLogger(logger.level, join(dir, 'demo.log'));
  const story: string[] = [];
  const tell = (line: string): void => {
    story.push(line.trim());
    say(line);
  };
  let agent: DemoAgent | undefined;
  let cluster: Awaited<ReturnType<typeof startDemoCluster>> | undefined;
  try {
    agent = await DemoAgent.start();
    cluster = await startDemoCluster(dir, opts.sidecars, opts.mesh, loopInboxEnv(opts.sidecars, agent.url));
    const { nats, sidecars } = cluster;
    const told = await tellStory(opts, dir, cluster, agent, tell);
    await stopSidecars(sidecars);
    // Counted again once no sidecar runs: a late second push would show here.
    told.loop.deliveries = agent.deliveriesOf(told.loop.correlationId).length;
    return { ...(await prove(opts, dir, nats.url, sidecars, told, log.logger, tell)), story };
  } finally {
    if (cluster !== undefined) {
      await stopSidecars(cluster.sidecars);
      await cluster.nats.dispose();
    }
    await agent?.stop();
    log.close();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

// Phases 1 to 4, with the sidecars running: commits, the outage and its replay, the loop back in.
async function tellStory(
  opts: DemoOptions,
  dir: string,
  { nats, sidecars }: Awaited<ReturnType<typeof startDemoCluster>>,
  agent: DemoAgent,
  say: (line: string) => void,
): Promise<{ phases: DemoPhase[]; ids: string[]; loop: DemoLoop }> {
  say(`nats-server ${nats.url} (JetStream, store ${join(dir, 'jetstream')}) and ${sidecars.length} sidecars up`);
  if (opts.mesh)
    say(
      'libp2p mesh on /root-solar/sentiment/1.0.0: ' +
        `every intent needs a majority of the ${sidecars.length} cohort members`,
    );
  for (const s of sidecars) say(`  ${s.name}  ${s.peerId}  http://${s.api}`);
  await waitUntil(
    async () => (await Promise.all(sidecars.map((s) => ok(`http://${s.api}/readyz`)))).every(Boolean),
    'sidecars ready',
    20_000,
  );
  const phases: DemoPhase[] = [];

  const t = Date.now();
  const first = await submit(sidecars, opts.intents, 'steady');
  await waitUntil(async () => (await openRows(sidecars)).open === 0, 'steady-state commits', 120_000);
  phases.push({ phase: 'NATS up', accepted: first.length, committed: first.length, seconds: (Date.now() - t) / 1000 });
  say(
    `phase 1: ${first.length} intents accepted${opts.mesh ? ', endorsed' : ''} ` +
      `and committed in ${phases[0]!.seconds.toFixed(2)} s`,
  );
  await showEndorsers(sidecars[0]!, first[0]!, say);

  const outage = await outagePhase(nats, sidecars, opts.outageIntents, say);
  phases.push(outage.phase);

  const loop = await runLoopStep(sidecars, agent, waitUntil);
  phases.push({ phase: 'NATS to the agent (inbox)', accepted: 1, committed: 1, seconds: loop.seconds });
  say(loopLine(loop));
  return { phases, ids: [...first, ...outage.ids, loop.correlationId], loop };
}

// Phases 2 and 3: NATS killed while intents keep arriving (they buffer), then restarted (they replay).
async function outagePhase(
  nats: NatsServerProcess,
  sidecars: DemoSidecar[],
  n: number,
  say: (line: string) => void,
): Promise<{ phase: DemoPhase; ids: string[] }> {
  nats.kill('SIGKILL');
  await nats.waitExit();
  await waitUntil(async () => !(await ok(`http://${sidecars[0]!.api}/readyz`)), 'readyz to report NATS lost', 30_000);
  say('phase 2: nats-server SIGKILLed; /readyz now 503');
  const t = Date.now();
  const ids = await submit(sidecars, n, 'outage');
  // Let endorsements land, so the rows wait on NATS, not on quorum (bounded: the line says if some did not).
  let buffered = await bufferedIntents(sidecars, ids);
  for (const deadline = Date.now() + 10_000; buffered.intents < ids.length && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    buffered = await bufferedIntents(sidecars, ids);
  }
  say(bufferedLine(ids.length, sidecars.length, buffered));

  await nats.restart();
  say('phase 3: nats-server restarted on the same port and store; replaying');
  await waitUntil(async () => (await openRows(sidecars)).open === 0, 'replay', 120_000);
  const seconds = (Date.now() - t) / 1000;
  say(`         all ${ids.length} buffered intents committed ${seconds.toFixed(2)} s after the outage began`);
  return { phase: { phase: 'NATS down, then replayed', accepted: ids.length, committed: ids.length, seconds }, ids };
}

// With the sidecars stopped: reconcile each buffer, read the stream back, judge.
async function prove(
  opts: DemoOptions,
  dir: string,
  natsUrl: string,
  sidecars: DemoSidecar[],
  told: { phases: DemoPhase[]; ids: string[]; loop: DemoLoop },
  logger: Logger,
  say: (line: string) => void,
): Promise<Omit<DemoSummary, 'story'>> {
  const { phases, ids, loop } = told;
  const config = ConfigSchema.parse({ nats: { servers: [natsUrl] } });
  const session = await openAdminSession(config, logger);
  try {
    const reports: DemoSummary['reconcile'] = [];
    for (const s of sidecars) {
      const outbox = SqliteOutbox.open({ path: s.bufferPath });
      try {
        const r = await reconcileOutbox({
          outbox,
          publisher: session.publisher,
          reader: session.reader,
          clock: new SystemClock(),
          logger,
          leaseOwner: `demo:${process.pid}`,
          scanSkewMs: 5_000,
          window: 256,
          batchRows: 256,
          dryRun: false,
          verify: true,
          firstSeq: session.firstSeq,
        });
        reports.push({ sidecar: s.name, aligned: r.aligned, verified: r.verified, lost: r.lost.length });
      } finally {
        await outbox.close();
      }
    }
    const counts = new Map<string, number>();
    let messages = 0;
    for await (const m of session.reader.scanAll('root.solar.command.>', 0)) {
      messages++;
      counts.set(m.msgId ?? '', (counts.get(m.msgId ?? '') ?? 0) + 1);
    }
    const stream = {
      messages,
      distinctIds: counts.size,
      duplicates: [...counts.values()].filter((c) => c > 1).length,
      lost: ids.filter((id) => !counts.has(id)).length,
    };
    say(
      `reconcile --verify: ${reports.map((r) => `${r.sidecar} ${r.aligned ? 'aligned' : 'NOT aligned'}`).join(', ')}`,
    );
    const inbox = { ...loop, copiesInStream: counts.get(loop.correlationId) ?? 0 };
    const okAll =
      stream.duplicates === 0 &&
      stream.lost === 0 &&
      messages === ids.length &&
      reports.every((r) => r.aligned) &&
      inbox.copiesInStream === 1 &&
      inbox.deliveries === 1;
    return {
      dir: opts.keep ? dir : null,
      sidecars: sidecars.map((s) => ({ name: s.name, peerId: s.peerId, api: s.api })),
      phases,
      stream,
      inbox,
      reconcile: reports,
      ok: okAll,
    };
  } finally {
    await session.close();
  }
}
