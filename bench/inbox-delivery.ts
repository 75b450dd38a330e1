/**
 * Inbox delivery, NATS → agent, net-sync against a raw nats.js consumer on the same nats-server,
 * agent and commands: (i1) throughput of a pre-loaded backlog, (i2) latency at a fixed offered
 * rate (open loop). Both consumers are processes of their own; the agent is in this process.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { headers, type JetStreamClient, type JetStreamManager, type MsgHdrs } from 'nats';
import type { NewOutboxRow } from '../src/core/intent.js';
import { reapOnExit } from '../src/devkit/child-reaper.js';
import { connectRaw } from './baselines.js';
import { BenchAgent } from './bench-agent.js';
import { CliSidecar } from './cli-sidecar.js';
import {
  benchCommandRow,
  budgetMs,
  closedLoop,
  commandsStreamConfig,
  INTENT_SUBJECT,
  type Sample,
  waitUntil,
  WINDOW,
  withNats,
  withTempDir,
  within,
} from './common.js';
import type { RawConsumerArgs } from './inbox-raw-consumer.js';
import { openLoop, type OpenLoopFigures } from './open-loop.js';

/** The two consumers compared. */
export type InboxPath = 'net-sync' | 'raw';

/** What every run of one consumer needs. */
export interface DeliveryContext {
  natsUrl: string;
  agent: BenchAgent;
  jsm: JetStreamManager;
  /** Writes the sidecar's CPU profile here, when set. */
  cpuProfDir?: string;
}

const STREAM = commandsStreamConfig().name;

/** A started consumer, net-sync's or the raw one, stopped by PID. */
interface RunningConsumer {
  stop(): Promise<void>;
}

/** Starts `path`'s consumer on {@link INTENT_SUBJECT} and returns once its durable exists. */
async function startConsumer(
  path: InboxPath,
  ctx: DeliveryContext,
  dir: string,
  opts: { durable: string; maxAckPending: number; deliverPolicy: 'all' | 'new' },
): Promise<RunningConsumer> {
  const c =
    path === 'raw'
      ? await startRawConsumer({
          natsUrl: ctx.natsUrl,
          stream: STREAM,
          subject: INTENT_SUBJECT,
          agentUrl: ctx.agent.url,
          maxSeconds: 600,
          ...opts,
        })
      : await CliSidecar.start({
          dir,
          natsUrl: ctx.natsUrl,
          env: {
            NET_SYNC_INBOX_SUBJECTS: INTENT_SUBJECT,
            NET_SYNC_INBOX_PUSH_URL: ctx.agent.url,
            NET_SYNC_INBOX_DURABLE: opts.durable,
            NET_SYNC_INBOX_MAX_ACK_PENDING: String(opts.maxAckPending),
            NET_SYNC_INBOX_DELIVER_POLICY: opts.deliverPolicy,
          },
          ...(ctx.cpuProfDir === undefined ? {} : { cpuProfDir: ctx.cpuProfDir }),
        });
  try {
    await waitConsumer(ctx.jsm, opts.durable, 30_000);
  } catch (err) {
    await c.stop();
    throw err;
  }
  return c;
}

/** Polls consumer info until `durable` exists; bounded by `timeoutMs`. */
async function waitConsumer(jsm: JetStreamManager, durable: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const exists = (): Promise<boolean> =>
    jsm.consumers.info(STREAM, durable).then(
      () => true,
      () => false,
    );
  while (!(await exists())) {
    if (performance.now() > deadline) throw new Error(`bench: durable ${durable} not created within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Spawns bench/inbox-raw-consumer.js and waits for its `ready`. */
async function startRawConsumer(args: RawConsumerArgs): Promise<RunningConsumer> {
  const script = fileURLToPath(new URL('./inbox-raw-consumer.js', import.meta.url));
  const child = spawn(process.execPath, [script, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  reapOnExit(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const signal = (sig: NodeJS.Signals): void => {
    try {
      if (!gone && child.pid !== undefined) process.kill(child.pid, sig);
    } catch {
      // already gone
    }
  };
  const stop = async (): Promise<void> => {
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntil('raw consumer ready', () => out.includes('ready') || gone, 30_000, 10);
    if (gone) throw new Error(`raw consumer exited: ${err}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop };
}

function natsHeaders(row: NewOutboxRow): MsgHdrs {
  const h = headers();
  for (const [k, v] of Object.entries(row.headers)) h.set(k, v);
  return h;
}

/** Publishes a command row as net-sync's committer would (same body, headers and msgID). */
export function publishRow(js: JetStreamClient, row: NewOutboxRow): Promise<unknown> {
  return js.publish(row.subject, row.body, { msgID: row.correlationId, headers: natsHeaders(row) });
}

/**
 * (i1) Pre-loads `count` commands, then for each `maxAckPending` runs both consumers `repeats`
 * times, interleaved (raw, net-sync, raw, …), each on a fresh durable (deliver all). A run is
 * timed from the agent's first receipt to its last, so process start-up counts for neither.
 */
export function measureThroughput(
  count: number,
  maxAckPendings: readonly number[],
  repeats: number,
  cpuProfDir?: string,
): Promise<Array<{ maxAckPending: number; samples: Record<InboxPath, Sample[]> }>> {
  return withNats(async (server) => {
    const nc = await connectRaw(server.url);
    const agent = new BenchAgent();
    await agent.start();
    try {
      const js = nc.jetstream();
      const rows = Array.from({ length: count }, (_, i) => benchCommandRow('INBOX', i));
      await within(
        '(i1) pre-load',
        budgetMs(count),
        closedLoop(count, WINDOW, (i) => publishRow(js, rows[i]!)),
      );
      const ctx: DeliveryContext = {
        natsUrl: server.url,
        agent,
        jsm: await nc.jetstreamManager(),
        ...(cpuProfDir === undefined ? {} : { cpuProfDir }),
      };
      const out: Array<{ maxAckPending: number; samples: Record<InboxPath, Sample[]> }> = [];
      for (const maxAckPending of maxAckPendings) {
        const samples: Record<InboxPath, Sample[]> = { raw: [], 'net-sync': [] };
        for (let rep = 1; rep <= repeats; rep++) {
          for (const path of ['raw', 'net-sync'] as const) {
            const durable = `i1-${path.replace('-', '')}-${maxAckPending}-${rep}`;
            samples[path].push(await throughputRun(path, ctx, count, maxAckPending, durable));
          }
        }
        out.push({ maxAckPending, samples });
      }
      return out;
    } finally {
      await agent.stop();
      await nc.close();
    }
  });
}

async function throughputRun(
  path: InboxPath,
  ctx: DeliveryContext,
  count: number,
  maxAckPending: number,
  durable: string,
): Promise<Sample> {
  ctx.agent.reset();
  const spawnedAt = performance.now();
  await withTempDir(async (dir) => {
    const c = await startConsumer(path, ctx, dir, { durable, maxAckPending, deliverPolicy: 'all' });
    try {
      await ctx.agent.waitFor(count, budgetMs(count, 100), durable);
    } finally {
      await c.stop();
    }
  });
  await ctx.jsm.consumers.delete(STREAM, durable).catch(() => undefined);
  const times = [...ctx.agent.firstAt.values()];
  const first = Math.min(...times);
  const last = Math.max(...times);
  const seconds = (last - first) / 1_000;
  const sample: Sample = {
    rate: (count - 1) / seconds,
    count,
    seconds,
    extra: {
      rateFromSpawn: Math.round(count / ((last - spawnedAt) / 1_000)),
      duplicates: ctx.agent.duplicates,
    },
  };
  process.stderr.write(`bench: ${durable}: ${Math.round(sample.rate).toLocaleString('en-US')} msg/s\n`);
  return sample;
}

/** (i2) figures of one consumer. */
export interface DeliveryLatency extends OpenLoopFigures {
  path: InboxPath;
  maxAckPending: number;
  /** The warm-up phase at the same rate, not counted. */
  warmup: OpenLoopFigures;
}

/**
 * (i2) For each consumer (raw first), on a fresh durable (deliver new): `rate` commands/s for
 * `warmupSeconds` (reported apart), then for `seconds`, published on schedule whatever the
 * PubAcks; latency = agent receipt − scheduled send time (no coordinated omission).
 */
export function measureLatency(
  rate: number,
  seconds: number,
  warmupSeconds: number,
  cpuProfDir?: string,
): Promise<DeliveryLatency[]> {
  return withNats(async (server) => {
    const nc = await connectRaw(server.url);
    const agent = new BenchAgent(true);
    await agent.start();
    try {
      const js = nc.jetstream();
      const ctx: DeliveryContext = {
        natsUrl: server.url,
        agent,
        jsm: await nc.jetstreamManager(),
        ...(cpuProfDir === undefined ? {} : { cpuProfDir }),
      };
      const out: DeliveryLatency[] = [];
      for (const path of ['raw', 'net-sync'] as const)
        out.push(await latencyRun(path, ctx, js, { rate, seconds, warmupSeconds }));
      return out;
    } finally {
      await agent.stop();
      await nc.close();
    }
  });
}

async function latencyRun(
  path: InboxPath,
  ctx: DeliveryContext,
  js: JetStreamClient,
  load: { rate: number; seconds: number; warmupSeconds: number },
): Promise<DeliveryLatency> {
  const tag = path === 'raw' ? 'LR' : 'LN';
  return withTempDir(async (dir) => {
    ctx.agent.reset();
    const c = await startConsumer(path, ctx, dir, { durable: `i2-${tag}`, maxAckPending: 1, deliverPolicy: 'new' });
    try {
      const run = (seconds: number, prefix: string): Promise<OpenLoopFigures> =>
        openLoop({
          rate: load.rate,
          seconds,
          send: async (i) => {
            const row = benchCommandRow(prefix, i);
            await publishRow(js, row);
            return row.correlationId;
          },
          receivedAt: (id) => ctx.agent.firstAt.get(id),
          storedAt: (id) => ctx.agent.storedAt(id),
          duplicates: () => ctx.agent.duplicates,
          settleMs: 30_000,
        });
      const warmup = await run(load.warmupSeconds, `${tag}W`);
      ctx.agent.reset();
      const figures = await run(load.seconds, tag);
      return { path, maxAckPending: 1, ...figures, warmup };
    } finally {
      await c.stop();
    }
  });
}
