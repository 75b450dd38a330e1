/**
 * The peer in the same run (issue 15, step 5): the store-and-forward a NATS user would pick
 * instead of net-sync. A leaf-node nats-server with its own JetStream domain (`leaf`) and a
 * stream LEAF, linked to a hub nats-server (domain `hub`) whose stream HUB sources LEAF
 * (`external.api = $JS.leaf.API`); both on loopback, temp dirs, stopped by PID.
 *
 * (l) leaf ingest: nats.js `js.publish` to the leaf, msgID, window 1,024, timed to the last PubAck.
 * (l→hub) arrival of the same messages at HUB (its count polled on the hub every 5 ms), and the
 *   p50/p99 forwarding latency: stored at HUB minus stored at LEAF, by the servers' timestamps.
 * Outage: the hub is SIGKILLed a quarter into an ingest, stays down `outageSeconds`, and is
 *   restarted; from its return (ready, port open) to the first and the last forwarded message.
 * Our outage: one net-sync sidecar (consensus off, default config) under the same load, its
 *   nats-server SIGKILLed and restarted alike; from NATS' return to the first commit and to the
 *   backlog drained.
 */
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { ConfigSchema } from '../src/config/schema.js';
import { freePort, NatsServerProcess } from '../src/devkit/nats-server-process.js';
import {
  budgetMs,
  closedLoop,
  quantile,
  rawPayload,
  sampleSince,
  waitUntil,
  WINDOW,
  withNats,
  withTempDir,
  within,
  type Sample,
  type Sizes,
} from './common.js';
import type { LookupReport } from '../src/commit/outbox-committer.js';
import type { CommandPublisher, OutboundMessage, PublishDone, PublishResult } from '../src/core/ports.js';
import { startBenchSidecar } from './sidecar-harness.js';

const LEAF_SUBJECT = 'leaf.bench.msg';
const POLL_MS = 5;

/** One repetition of the leaf node's figures. */
export interface LeafSample {
  /** (l) js.publish to the leaf, window 1,024, to the last PubAck. */
  ingest: Sample;
  /** (l→hub) the same messages, first publish to the last one counted at HUB. */
  arrival: Sample;
  /** Stored at LEAF → stored at HUB, by the servers' timestamps, under the same load. */
  arrivalP50Ms: number;
  arrivalP99Ms: number;
  outage: OutageFigures;
}

/** An outage during ingest, timed from the killed server's return (ready, client port open). */
export interface OutageFigures {
  /** Messages (intents) sent across the outage, and how many were waiting when the server returned. */
  sent: number;
  backlogAtReturn: number;
  downMs: number;
  firstAfterReturnMs: number;
  lastAfterReturnMs: number;
  /** net-sync only: reconnected and the streams checked (the publisher open) after the return. */
  readyAfterReturnMs?: number;
  /** net-sync only: CPU time of this process (the sidecar) from the return to the first commit. */
  cpuToFirstMs?: number;
  /** net-sync only: the steps from the return to the first commit, ms after the return. */
  timeline?: OutageTimeline;
}

/**
 * Our first replayed commit, step by step (ms after NATS' return): the connection up, the
 * streams checked (publisher open), the lookup of the rows in flight at the kill over (and what
 * it did with them), the first publish of the replay, its first PubAck, the first commit heard.
 */
export interface OutageTimeline {
  connectedMs: number;
  openMs: number;
  lookupEndedMs: number;
  lookupMs: number;
  lookupRows: number;
  lookupFound: number;
  lookupResent: number;
  lookupMovedBack: number;
  /** Why the lookup's resend stopped short, if it did. */
  resendFailure?: string;
  firstSendMs: number;
  firstPubAckMs: number;
  firstCommitMs: number;
}

interface LeafPair {
  hub: NatsServerProcess;
  leaf: NatsServerProcess;
}

async function startPair(): Promise<LeafPair> {
  const leafPort = await freePort();
  const hub = await NatsServerProcess.start({
    jetstreamDomain: 'hub',
    config: `leafnodes { listen: "127.0.0.1:${leafPort}" }`,
  });
  try {
    const leaf = await NatsServerProcess.start({
      jetstreamDomain: 'leaf',
      config: `leafnodes { remotes = [ { url: "nats-leaf://127.0.0.1:${leafPort}" } ] }`,
    });
    return { hub, leaf };
  } catch (err) {
    await hub.dispose();
    throw err;
  }
}

async function hubCount(jsm: JetStreamManager): Promise<number> {
  return (await jsm.streams.info('HUB')).state.messages;
}

/** Polls HUB until it holds `total` messages; returns when it did (performance.now()). */
async function waitHub(jsm: JetStreamManager, total: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const n = await hubCount(jsm);
    if (n >= total) return performance.now();
    if (performance.now() > deadline) throw new Error(`leaf: HUB holds ${n} of ${total} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** When each of `count` messages from `fromSeq` on was stored (ms, server clock), by Nats-Msg-Id. */
async function storedAt(
  nc: NatsConnection,
  stream: string,
  fromSeq: number,
  count: number,
): Promise<Map<string, number>> {
  const consumer = await nc.jetstream().consumers.get(stream, { opt_start_seq: fromSeq });
  const messages = await consumer.consume();
  const times = new Map<string, number>();
  const read = (async () => {
    for await (const m of messages) {
      times.set(m.headers?.get('Nats-Msg-Id') ?? `seq-${m.seq}`, m.info.timestampNanos / 1e6);
      if (times.size >= count) break;
    }
  })();
  try {
    await within(`reading ${stream}`, budgetMs(count, 5_000), read);
  } finally {
    await messages.close();
  }
  return times;
}

/** One repetition: a fresh hub and leaf, (l) with (l→hub), and the hub outage. */
export async function measureLeaf(sizes: Sizes): Promise<LeafSample> {
  const pair = await startPair();
  const { hub, leaf } = pair;
  let leafNc: NatsConnection | undefined;
  let hubNc: NatsConnection | undefined;
  try {
    leafNc = await connect({ servers: leaf.url, noAsyncTraces: true });
    hubNc = await connect({ servers: hub.url, noAsyncTraces: true });
    const leafJsm = await leafNc.jetstreamManager();
    await leafJsm.streams.add({ name: 'LEAF', subjects: [`${LEAF_SUBJECT}.>`] });
    const hubJsm = await hubNc.jetstreamManager();
    await hubJsm.streams.add({
      name: 'HUB',
      sources: [{ name: 'LEAF', external: { api: '$JS.leaf.API', deliver: '' } }],
    });
    const js = leafNc.jetstream();
    const data = rawPayload();
    let sent = 0;
    const publish = (i: number): Promise<unknown> => {
      sent++;
      return js.publish(`${LEAF_SUBJECT}.${i % 16}`, data, { msgID: `l-${i}` });
    };
    await within('(l) warm-up', budgetMs(sizes.warmup), closedLoop(sizes.warmup, WINDOW, publish));
    // The source may need its first retry (5 s on 2.9.10) while the leaf link comes up.
    await waitHub(hubJsm, sent, 60_000);

    // (l) and (l→hub) in one pass; HUB's count is polled on the hub meanwhile for the arrival.
    const base = sent;
    let seen = 0;
    const started = performance.now();
    const stored = (async () => {
      const deadline = started + budgetMs(sizes.leaf);
      for (;;) {
        seen = Math.min(sizes.leaf, (await hubCount(hubJsm)) - base);
        const now = performance.now();
        if (seen === sizes.leaf) return now;
        if (now > deadline) throw new Error(`leaf: HUB holds ${seen} of ${sizes.leaf} after the budget`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    })();
    stored.catch(() => undefined); // awaited below; not unhandled while ingest runs
    await within('(l)', budgetMs(sizes.leaf), closedLoop(sizes.leaf, WINDOW, publish, base));
    const ingest = sampleSince(sizes.leaf, started);
    const arrivedAt = await stored;
    const arrivedSeconds = (arrivedAt - started) / 1_000;
    const arrival: Sample = { rate: sizes.leaf / arrivedSeconds, count: sizes.leaf, seconds: arrivedSeconds };
    // Forwarding latency by the servers' own clocks (one host): stored at HUB minus stored at LEAF.
    // Polls in this busy process would add their own delays (timers wait while acks are handled).
    const atLeaf = await storedAt(leafNc, 'LEAF', base + 1, sizes.leaf);
    const atHub = await storedAt(hubNc, 'HUB', base + 1, sizes.leaf);
    const lat: number[] = [];
    for (const [id, t] of atHub) {
      const l = atLeaf.get(id);
      if (l !== undefined) lat.push(t - l);
    }
    if (lat.length !== sizes.leaf) throw new Error(`leaf: ${lat.length} of ${sizes.leaf} messages paired`);

    await hubNc.close();
    hubNc = undefined;
    const outage = await leafOutage(
      sizes,
      hub,
      (count, offset) => closedLoop(count, WINDOW, publish, offset),
      () => sent,
    );
    return {
      ingest,
      arrival,
      arrivalP50Ms: quantile(lat, 0.5),
      arrivalP99Ms: quantile(lat, 0.99),
      outage,
    };
  } finally {
    await hubNc?.close().catch(() => undefined);
    await leafNc?.close().catch(() => undefined);
    await leaf.dispose();
    await hub.dispose();
  }
}

// Ingest `sizes.outage` messages to the leaf; SIGKILL the hub a quarter in; restart it once it
// has been down `outageSeconds` and ingest is over; time the forwarding from its return.
async function leafOutage(
  sizes: Sizes,
  hub: NatsServerProcess,
  ingest: (count: number, offset: number) => Promise<void>,
  sentSoFar: () => number,
): Promise<OutageFigures> {
  const quarter = Math.floor(sizes.outage / 4);
  await within('(l) outage: before the kill', budgetMs(quarter), ingest(quarter, sentSoFar()));
  hub.kill('SIGKILL');
  await hub.waitExit();
  const killed = performance.now();
  const rest = sizes.outage - quarter;
  await within('(l) outage: ingest while the hub is down', budgetMs(rest), ingest(rest, sentSoFar()));
  const total = sentSoFar();
  await waitUntil('outage length', () => performance.now() - killed >= sizes.outageSeconds * 1_000, 120_000, 10);
  await hub.restart();
  const back = performance.now();
  const nc = await connect({ servers: hub.url, noAsyncTraces: true });
  try {
    const jsm = await nc.jetstreamManager();
    const atReturn = await hubCount(jsm);
    let firstAt = Number.NaN;
    const deadline = back + 120_000;
    for (;;) {
      const n = await hubCount(jsm);
      if (Number.isNaN(firstAt) && n > atReturn) firstAt = performance.now();
      if (n >= total) break;
      if (performance.now() > deadline) throw new Error(`leaf outage: HUB holds ${n} of ${total} after 120 s`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const last = performance.now();
    return {
      sent: sizes.outage,
      backlogAtReturn: total - atReturn,
      downMs: Math.round(back - killed),
      firstAfterReturnMs: Math.round(firstAt - back),
      lastAfterReturnMs: Math.round(last - back),
    };
  } finally {
    await nc.close();
  }
}

/**
 * Our outage: one sidecar with the default `nats` settings (`nats` overrides them, for an A/B),
 * intents accepted with 1,024 outstanding; its nats-server is SIGKILLed a quarter in, left down
 * `outageSeconds` and restarted. From NATS' return to the first commit and to every intent committed.
 */
export function measureOurOutage(sizes: Sizes, nats: Record<string, unknown> = {}): Promise<OutageFigures> {
  return withNats((server) =>
    withTempDir(async (dir) => {
      const config = ConfigSchema.parse({
        nats: { servers: [server.url], ...nats },
        api: { listen: '127.0.0.1:0' },
        buffer: { path: `${dir}/outbox.db` },
        mesh: { keyFile: `${dir}/bench.key` },
        log: { level: 'silent' },
      });
      const bench = await startBenchSidecar(dir, server.url, true, config);
      try {
        await within('(o) warm-up', budgetMs(sizes.warmup), closedLoop(sizes.warmup, WINDOW, bench.accept));
        await bench.waitCommitted(sizes.warmup, budgetMs(sizes.warmup));
        const quarter = Math.floor(sizes.outage / 4);
        await within('(o) before the kill', budgetMs(quarter), closedLoop(quarter, WINDOW, bench.accept));
        server.kill('SIGKILL');
        await server.waitExit();
        const killed = performance.now();
        const rest = sizes.outage - quarter;
        await within('(o) accepts while NATS is down', budgetMs(rest), closedLoop(rest, WINDOW, bench.accept));
        await waitUntil('outage length', () => performance.now() - killed >= sizes.outageSeconds * 1_000, 120_000, 10);
        const total = sizes.warmup + sizes.outage;
        // Timed by the events themselves: a poll's timer waits while the replay keeps the event
        // loop busy (measured: a 1 ms poll saw the first commit 1.5 s late at load 35).
        let readyAt = Number.NaN;
        let firstAt = Number.NaN;
        let lastAt = Number.NaN;
        const atKill = bench.committed();
        let cpuFrom = process.cpuUsage();
        let cpuToFirst: NodeJS.CpuUsage | undefined;
        const off = bench.sidecar.publisher.onState((st) => {
          if (st === 'connected' && Number.isNaN(readyAt)) readyAt = performance.now();
        });
        const t = { connected: Number.NaN, lookupEnded: Number.NaN, firstSend: Number.NaN, firstPubAck: Number.NaN };
        let lookup: LookupReport | undefined;
        const offConnector = bench.sidecar.connector.onState((st) => {
          if (st === 'connected' && Number.isNaN(t.connected)) t.connected = performance.now();
        });
        const onLookup = (r: LookupReport): void => {
          if (lookup !== undefined) return;
          lookup = r;
          t.lookupEnded = performance.now();
        };
        bench.sidecar.committer.on('lookup:ended', onLookup);
        const unwatch = watchFirstSend(bench.sidecar.publisher, (what) => {
          if (what === 'send') t.firstSend = performance.now();
          else t.firstPubAck = performance.now();
        });
        const onCommitted = (): void => {
          const now = performance.now();
          if (Number.isNaN(firstAt) && bench.committed() > atKill) {
            firstAt = now;
            cpuToFirst = process.cpuUsage(cpuFrom);
          }
          if (Number.isNaN(lastAt) && bench.committed() >= total) lastAt = now;
        };
        bench.sidecar.committer.on('intent:committed', onCommitted);
        await server.restart();
        const back = performance.now();
        cpuFrom = process.cpuUsage();
        const atReturn = bench.committed();
        await bench.waitCommitted(total, budgetMs(sizes.outage));
        bench.sidecar.committer.off('intent:committed', onCommitted);
        bench.sidecar.committer.off('lookup:ended', onLookup);
        off();
        offConnector();
        unwatch();
        const after = (x: number): number => Math.round(x - back);
        return {
          sent: sizes.outage,
          backlogAtReturn: total - atReturn,
          downMs: Math.round(back - killed),
          firstAfterReturnMs: Math.round(firstAt - back),
          lastAfterReturnMs: Math.round(lastAt - back),
          readyAfterReturnMs: Math.round(readyAt - back),
          cpuToFirstMs:
            cpuToFirst === undefined ? Number.NaN : Math.round((cpuToFirst.user + cpuToFirst.system) / 1_000),
          timeline: {
            connectedMs: after(t.connected),
            openMs: after(readyAt),
            lookupEndedMs: after(t.lookupEnded),
            lookupMs: Math.round(lookup?.durationMs ?? Number.NaN),
            lookupRows: lookup?.rows ?? 0,
            lookupFound: lookup?.found ?? 0,
            lookupResent: lookup?.resent ?? 0,
            lookupMovedBack: lookup?.movedBack ?? 0,
            ...(lookup?.resendFailure === undefined ? {} : { resendFailure: lookup.resendFailure }),
            firstSendMs: after(t.firstSend),
            firstPubAckMs: after(t.firstPubAck),
            firstCommitMs: after(firstAt),
          },
        };
      } finally {
        await bench.stop();
      }
    }),
  );
}

/**
 * Stamps the first publish through `publisher` after the call (any caller: a lookup's resend or a
 * pass) and its first PubAck, by wrapping its `send` until then; returns the undo.
 */
function watchFirstSend(publisher: CommandPublisher, stamp: (what: 'send' | 'pubAck') => void): () => void {
  const own = Object.getOwnPropertyDescriptor(publisher, 'send');
  const original = publisher.send;
  if (original === undefined) return () => undefined;
  const undo = (): void => {
    if (own === undefined) delete (publisher as { send?: unknown }).send;
    else Object.defineProperty(publisher, 'send', own);
  };
  let sent = false;
  let acked = false;
  publisher.send = <C>(msg: OutboundMessage, ctx: C, done: PublishDone<C>, signal?: AbortSignal): void => {
    if (!sent) {
      sent = true;
      stamp('send');
    }
    (original as (m: OutboundMessage, c: C, d: PublishDone<C>, s?: AbortSignal) => void).call(
      publisher,
      msg,
      ctx,
      (c: C, r: PublishResult) => {
        if (!acked && r.kind === 'acked') {
          acked = true;
          stamp('pubAck');
          undo();
        }
        done(c, r);
      },
      signal,
    );
  };
  return undo;
}
