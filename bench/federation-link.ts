/**
 * The stage of benchmarks (h) and (i) (issue 20): ORG's hub and acme's server started from
 * examples/federation (test/support/federation-servers.ts), acme's leaf node through a TCP
 * proxy that can cut it, both streams declared by `net-sync streams apply` from the example
 * sidecar configs, one sidecar per side (consensus off), a stand-in agent in this process, and
 * one observer per stream: an ordered consumer (headers only) on `root.solar.federation.>` that
 * notes when each event and receipt was stored there (the stream's timestamp) and when we saw
 * it. The raw baseline's messages travel the same subjects under IDs of their own (`raw-…`,
 * `rawack-…`); the streams are purged before the sidecars start so they never read them.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type ConsumerMessages, DeliverPolicy, type NatsConnection } from 'nats';
import { reapOnExit } from '../src/devkit/child-reaper.js';
import {
  ACME_AUTH,
  FEDERATION_SECRETS,
  type FederationServers,
  leafCount,
  ORG_AUTH,
  startFederationServers,
} from '../test/support/federation-servers.js';
import { CLI, CliSidecar, keygen } from './cli-sidecar.js';

export const EVENTS = 'root.solar.federation.outbound.events.acme';
export const ACKS = 'root.solar.federation.inbound.acks.acme';
const EXAMPLES = resolve(import.meta.dirname, '../../examples/federation');
const EXAMPLE_ORG_KEY = '12D3KooWCDnZYTFpKPdBdG3b53acD3brgbNHqZo9Se1rV5FkWTJs';
const EXAMPLE_ACME_KEY = '12D3KooWBdF7cZCoazk3q3G9TquZKbzRzWy9mNL3ajGRKRX23jXX';

/** `performance.now()` now; every time below is on this clock (stream timestamps converted). */
export const now = (): number => performance.now();
const fromEpochMs = (ms: number): number => ms - performance.timeOrigin;

/** What one observer saw of one ID. */
export interface Seen {
  storedMs: number;
  seenMs: number;
}

/** Kinds of message on the federation subjects, told apart by Nats-Msg-Id. */
export type Kind = 'event' | 'ack' | 'raw' | 'rawack';

/** An ordered consumer on one side's stream; `on` is called for every message it reads. */
export class StreamObserver {
  readonly seen: Record<Kind, Map<string, Seen>> = {
    event: new Map(),
    ack: new Map(),
    raw: new Map(),
    rawack: new Map(),
  };
  on: ((kind: Kind, id: string, seen: Seen) => void) | undefined;
  /** Stream sequence of the last message read. */
  lastSeq = 0;
  private readonly done: Promise<void>;

  private constructor(private readonly msgs: ConsumerMessages) {
    this.done = this.read();
  }

  static async start(nc: NatsConnection, stream: string): Promise<StreamObserver> {
    const consumer = await nc.jetstream().consumers.get(stream, {
      filterSubjects: 'root.solar.federation.>',
      deliver_policy: DeliverPolicy.New,
      headers_only: true,
    });
    return new StreamObserver(await consumer.consume());
  }

  async stop(): Promise<void> {
    this.msgs.stop();
    await Promise.race([this.done, sleep(5_000)]);
  }

  private async read(): Promise<void> {
    for await (const m of this.msgs) {
      this.lastSeq = m.info.streamSequence;
      const msgId = m.headers?.get('Nats-Msg-Id') ?? '';
      const seen = { storedMs: fromEpochMs(m.info.timestampNanos / 1e6), seenMs: now() };
      const [kind, id] = classify(m.subject, msgId);
      if (kind === undefined || this.seen[kind].has(id)) continue;
      this.seen[kind].set(id, seen);
      this.on?.(kind, id, seen);
    }
  }
}

function classify(subject: string, msgId: string): [Kind | undefined, string] {
  if (subject === EVENTS) return msgId.startsWith('raw-') ? ['raw', msgId.slice(4)] : ['event', msgId];
  if (subject !== ACKS) return [undefined, ''];
  if (msgId.startsWith('rawack-')) return ['rawack', msgId.slice(7)];
  // ack-<eventId>-<first 16 hex of the digest>
  const m = /^ack-(.+)-[0-9a-f]{16}$/.exec(msgId);
  return m === null ? [undefined, ''] : ['ack', m[1]!];
}

/** The stand-in agent: answers 204 and notes when it received each push. */
export interface BenchAgent {
  url: string;
  pushedAt: Map<string, number>;
  pushes(): number;
  close(): Promise<void>;
}

async function startAgent(): Promise<BenchAgent> {
  const pushedAt = new Map<string, number>();
  let pushes = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      const at = now();
      pushes++;
      const id = (JSON.parse(body) as { eventId: string }).eventId;
      if (!pushedAt.has(id)) pushedAt.set(id, at);
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/federation`,
    pushedAt,
    pushes: () => pushes,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Runs the built CLI to completion; throws with its output on a non-zero exit. */
function runCli(args: string[], env: Record<string, string>, cwd: string): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', HOME: cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapOnExit(child);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) res();
      else rej(new Error(`net-sync ${args.join(' ')} exited ${code}: ${out.slice(-1500)}`));
    });
  });
}

/** Options of {@link FederationLink.start}. */
export interface LinkOptions {
  dir: string;
  /** `inbox.maxAckPending` of both sidecars (acme's receive consumer, ORG's receipt reader). */
  maxAckPending: number;
  /** V8 CPU profiles of both sidecars go here (`--cpu-prof`), written when they stop. */
  cpuProfDir?: string;
}

/** Both organisations, their sidecars (once started), the agent and the observers. */
export class FederationLink {
  org: CliSidecar | undefined;
  acme: CliSidecar | undefined;

  private constructor(
    readonly servers: FederationServers,
    readonly hubNc: NatsConnection,
    readonly acmeNc: NatsConnection,
    readonly agent: BenchAgent,
    readonly hub: StreamObserver,
    readonly partner: StreamObserver,
    private readonly opts: LinkOptions,
    private readonly dirs: { org: string; acme: string },
  ) {}

  static async start(opts: LinkOptions): Promise<FederationLink> {
    const servers = await startFederationServers(opts.dir, EXAMPLES);
    const dirs = { org: join(opts.dir, 'org-sidecar'), acme: join(opts.dir, 'acme-sidecar') };
    mkdirSync(dirs.org);
    mkdirSync(dirs.acme);
    const [orgKey, acmeKey] = await Promise.all([keygen(dirs.org), keygen(dirs.acme)]);
    const agent = await startAgent();
    const tail = `\ninbox:\n  maxAckPending: ${opts.maxAckPending}\n`;
    const orgYaml = readFileSync(join(EXAMPLES, 'org.yaml'), 'utf8')
      .replace('127.0.0.1:4222', `127.0.0.1:${servers.hubPort}`)
      .replaceAll(EXAMPLE_ORG_KEY, orgKey)
      .replaceAll(EXAMPLE_ACME_KEY, acmeKey);
    const acmeYaml = readFileSync(join(EXAMPLES, 'acme.yaml'), 'utf8')
      .replace('127.0.0.1:4223', `127.0.0.1:${servers.acmePort}`)
      .replace('http://127.0.0.1:8080/federation', agent.url)
      .replaceAll(EXAMPLE_ORG_KEY, orgKey)
      .replaceAll(EXAMPLE_ACME_KEY, acmeKey);
    writeFileSync(join(dirs.org, 'org.yaml'), orgYaml + tail);
    writeFileSync(join(dirs.acme, 'acme.yaml'), acmeYaml + tail);
    await runCli(['streams', 'apply', '--config', join(dirs.org, 'org.yaml'), '--json'], orgEnv(), dirs.org);
    await runCli(['streams', 'apply', '--config', join(dirs.acme, 'acme.yaml'), '--json'], acmeEnv(), dirs.acme);
    const hubNc = await connect({ servers: servers.hubUrl, ...ORG_AUTH });
    const acmeNc = await connect({ servers: servers.acmeUrl, ...ACME_AUTH });
    const link = new FederationLink(
      servers,
      hubNc,
      acmeNc,
      agent,
      await StreamObserver.start(hubNc, 'FEDERATION'),
      await StreamObserver.start(acmeNc, 'ACME_FED'),
      opts,
      dirs,
    );
    await link.waitLeaf(true, 30_000);
    return link;
  }

  /** Hub's `/leafz` count of leaf nodes. */
  leafs(): Promise<number> {
    return leafCount(this.servers.hubHttp).catch(() => -1);
  }

  /** Polls the hub's `/leafz` every 10 ms until the leaf is up (or down); returns when it was seen so. */
  async waitLeaf(up: boolean, timeoutMs: number): Promise<number> {
    const deadline = now() + timeoutMs;
    while (now() < deadline) {
      const n = await this.leafs();
      if (up ? n >= 1 : n === 0) return now();
      await sleep(10);
    }
    throw new Error(`bench: the leaf node is not ${up ? 'up' : 'down'} after ${timeoutMs} ms (hub /leafz)`);
  }

  /** Empties both streams (the raw baseline's messages), before the sidecars create their consumers. */
  async purge(): Promise<void> {
    await (await this.hubNc.jetstreamManager()).streams.purge('FEDERATION');
    await (await this.acmeNc.jetstreamManager()).streams.purge('ACME_FED');
  }

  async startSidecars(): Promise<void> {
    const prof = (side: string) =>
      this.opts.cpuProfDir === undefined ? {} : { cpuProfDir: join(this.opts.cpuProfDir, side) };
    const common = { readyTimeoutMs: 60_000, env: { NET_SYNC_LOG_LEVEL: 'warn' } };
    [this.org, this.acme] = await Promise.all([
      CliSidecar.start({
        ...common,
        ...prof('org'),
        dir: this.dirs.org,
        natsUrl: this.servers.hubUrl,
        args: ['--config', join(this.dirs.org, 'org.yaml')],
        env: { ...common.env, ...orgEnv() },
      }),
      CliSidecar.start({
        ...common,
        ...prof('acme'),
        dir: this.dirs.acme,
        natsUrl: this.servers.acmeUrl,
        args: ['--config', join(this.dirs.acme, 'acme.yaml')],
        env: { ...common.env, ...acmeEnv() },
      }),
    ]);
  }

  async stopSidecars(): Promise<void> {
    await Promise.all([this.org?.stop(), this.acme?.stop()]);
  }

  /** ORG's ledger of acme: `GET /v1/federation/partners`. */
  async orgPartner(): Promise<{ sent: number; acked: number; unacked: number; rejected: number } | undefined> {
    const doc = await this.org?.get('/v1/federation/partners');
    const p = (doc?.['partners'] as Array<Record<string, number>> | undefined)?.[0];
    return p === undefined
      ? undefined
      : { sent: p['sent']!, acked: p['acked']!, unacked: p['unacked']!, rejected: p['rejected']! };
  }

  /** Waits (at most `timeoutMs`) until ORG's ledger has nothing unacked: the pipeline is idle. */
  async waitIdle(timeoutMs = 180_000): Promise<void> {
    const deadline = now() + timeoutMs;
    while (now() < deadline) {
      const p = await this.orgPartner();
      if (p !== undefined && p.unacked === 0) return;
      await sleep(100);
    }
    throw new Error(
      `bench: ORG still has unacked events after ${timeoutMs} ms: ${JSON.stringify(await this.orgPartner())}`,
    );
  }

  /** Waits (at most `timeoutMs`) until both observers have read everything stored so far. */
  async settleObservers(timeoutMs = 10_000): Promise<void> {
    const deadline = now() + timeoutMs;
    const [hubLast, acmeLast] = [
      (await (await this.hubNc.jetstreamManager()).streams.info('FEDERATION')).state.last_seq,
      (await (await this.acmeNc.jetstreamManager()).streams.info('ACME_FED')).state.last_seq,
    ];
    while (now() < deadline && (this.hub.lastSeq < hubLast || this.partner.lastSeq < acmeLast)) await sleep(20);
  }

  async close(): Promise<void> {
    await this.stopSidecars();
    await this.hub.stop();
    await this.partner.stop();
    await this.hubNc.close();
    await this.acmeNc.close();
    await this.agent.close();
    await this.servers.stop();
  }

  get maxAckPending(): number {
    return this.opts.maxAckPending;
  }
}

const orgEnv = (): Record<string, string> => ({ NET_SYNC_NATS_PASS: FEDERATION_SECRETS.ORG_PASSWORD });
const acmeEnv = (): Record<string, string> => ({ NET_SYNC_NATS_PASS: FEDERATION_SECRETS.ACME_PASSWORD });
