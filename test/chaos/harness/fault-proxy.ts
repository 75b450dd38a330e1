/**
 * A small TCP fault proxy on loopback, one per link (sidecar↔NATS, sidecar↔sidecar). Faults:
 * cut (close every connection and refuse new ones), blackhole (accept, never forward; per
 * direction), latency with seeded jitter, a bandwidth limit, and a seeded flapping schedule.
 * Bounded: at most `maxConnections` pairs and `maxQueuedBytes` held per direction (the source
 * is paused beyond it). `stop()` closes everything.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Prng } from './prng.js';

/** Which way traffic is held by a blackhole. `toTarget` = client → server. */
export type Direction = 'both' | 'toTarget' | 'toClient';

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /** Name in logs and reports, e.g. `sidecar→nats`. */
  name: string;
  target: { host: string; port: number };
  /** Jitter and flap schedules come from here. */
  rng: Prng;
  /** Listen port on 127.0.0.1. Default: an ephemeral port, kept across cut/heal. */
  port?: number;
  /** Default 256; further connections are refused while at the limit. */
  maxConnections?: number;
  /** Bytes held per direction before the source is paused. Default 16 MiB. */
  maxQueuedBytes?: number;
}

/** Counters for the report. */
export interface FaultProxyStats {
  accepted: number;
  refused: number;
  cuts: number;
  bytesForwarded: number;
}

/** A running flap schedule. */
export interface Flapping {
  /** Resolves when the schedule ended (its duration elapsed or `stop()`); the link is healed then. */
  done: Promise<void>;
  stop(): Promise<void>;
  /** How many down phases ran. */
  readonly downs: number;
}

interface Chunk {
  data: Buffer;
  atMs: number;
}

// One direction of one connection pair: ordered, delayed, rate-limited delivery.
class Pipe {
  readonly queue: Chunk[] = [];
  queuedBytes = 0;
  held = false;
  ended = false;
  private lastAtMs = 0;
  private freeAtMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly from: () => Socket | undefined,
    private readonly to: () => Socket | undefined,
  ) {}

  push(data: Buffer): void {
    const now = Date.now();
    const { latency, bytesPerSec } = this.proxy.shaping;
    let at = Math.max(now + (latency === null ? 0 : this.proxy.jitter(latency.minMs, latency.maxMs)), this.lastAtMs);
    if (bytesPerSec !== null) {
      at = Math.max(at, this.freeAtMs);
      this.freeAtMs = at + (data.length * 1000) / bytesPerSec;
    }
    this.lastAtMs = at;
    this.queue.push({ data, atMs: at });
    this.queuedBytes += data.length;
    if (this.queuedBytes > this.proxy.maxQueuedBytes) this.from()?.pause();
    this.flush();
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const to = this.to();
    if (this.held || to === undefined || to.destroyed) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.atMs <= now) {
      const chunk = this.queue.shift()!;
      this.queuedBytes -= chunk.data.length;
      this.proxy.stats.bytesForwarded += chunk.data.length;
      to.write(chunk.data);
    }
    const from = this.from();
    if (this.queuedBytes <= this.proxy.maxQueuedBytes && from?.isPaused() === true) from.resume();
    if (this.queue.length > 0) this.timer = setTimeout(() => this.flush(), Math.max(1, this.queue[0]!.atMs - now));
    else if (this.ended) to.end();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
    this.queuedBytes = 0;
  }
}

class Pair {
  upstream: Socket | undefined;
  readonly up: Pipe;
  readonly down: Pipe;
  closed = false;

  constructor(
    private readonly proxy: FaultProxy,
    readonly client: Socket,
  ) {
    this.up = new Pipe(
      proxy,
      () => client,
      () => this.upstream,
    );
    this.down = new Pipe(
      proxy,
      () => this.upstream,
      () => client,
    );
    client.on('data', (d: Buffer) => this.up.push(d));
    client.on('end', () => {
      this.up.ended = true;
      this.up.flush();
    });
    client.on('error', () => this.close());
    client.on('close', () => this.close());
  }

  // Connects to the target once the link lets traffic through (not while blackholed).
  connect(): void {
    if (this.upstream !== undefined || this.closed) return;
    const u = createConnection(this.proxy.target);
    this.upstream = u;
    u.on('data', (d: Buffer) => this.down.push(d));
    u.on('end', () => {
      this.down.ended = true;
      this.down.flush();
    });
    u.on('error', () => this.close());
    u.on('close', () => this.close());
    u.on('connect', () => this.up.flush());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.up.dispose();
    this.down.dispose();
    this.client.destroy();
    this.upstream?.destroy();
    this.proxy.forget(this);
  }
}

/** One proxied link: clients connect to `port`, the proxy dials `target`. */
export class FaultProxy {
  readonly stats: FaultProxyStats = { accepted: 0, refused: 0, cuts: 0, bytesForwarded: 0 };
  readonly target: { host: string; port: number };
  readonly maxQueuedBytes: number;
  /** Current shaping: latency range (ms) and bandwidth (bytes/s), null = none. */
  shaping: { latency: { minMs: number; maxMs: number } | null; bytesPerSec: number | null } = {
    latency: null,
    bytesPerSec: null,
  };
  private readonly pairs = new Set<Pair>();
  private readonly rng: Prng;
  private readonly maxConnections: number;
  private server: Server | null = null;
  private portValue = 0;
  private mode: 'up' | 'cut' | 'blackhole' = 'up';
  private heldDirection: Direction = 'both';
  private flapping: Set<() => Promise<void>> = new Set();
  private stopped = false;

  private constructor(
    readonly name: string,
    opts: FaultProxyOptions,
  ) {
    this.target = opts.target;
    this.rng = opts.rng;
    this.maxConnections = opts.maxConnections ?? 256;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 16 << 20;
    this.portValue = opts.port ?? 0;
  }

  /** Starts listening; the link is up. */
  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(opts.name, opts);
    await proxy.listen();
    return proxy;
  }

  /** Listen port on 127.0.0.1. */
  get port(): number {
    return this.portValue;
  }
  /** `nats://127.0.0.1:<port>`, for NATS links. */
  get natsUrl(): string {
    return `nats://127.0.0.1:${this.portValue}`;
  }
  /** Current link state. */
  get state(): 'up' | 'cut' | 'blackhole' {
    return this.mode;
  }
  /** Open connection pairs. */
  get connections(): number {
    return this.pairs.size;
  }

  /** A delay in [minMs, maxMs] from the seeded stream. */
  jitter(minMs: number, maxMs: number): number {
    return this.rng.range(minMs, maxMs);
  }

  /** Adds latency (uniform in [minMs, maxMs] per chunk, order kept) to both directions. */
  setLatency(minMs: number, maxMs: number): void {
    this.shaping = { ...this.shaping, latency: { minMs, maxMs } };
  }

  /** Limits each direction of each connection to `bytesPerSec`. */
  setBandwidth(bytesPerSec: number): void {
    this.shaping = { ...this.shaping, bytesPerSec };
  }

  /** Removes latency and bandwidth limits (already queued data keeps its delivery time). */
  clearShaping(): void {
    this.shaping = { latency: null, bytesPerSec: null };
  }

  /** Cuts the link: every connection is closed and new ones are refused until `heal()`. */
  async cut(): Promise<void> {
    this.mode = 'cut';
    this.stats.cuts++;
    const server = this.server;
    this.server = null;
    for (const p of [...this.pairs]) p.close();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Blackholes the link: connections are accepted but traffic in `direction` is held, never
   * delivered, until `heal()` (as TCP would retransmit after a partition heals) or a cut
   * (which drops it).
   */
  blackhole(direction: Direction = 'both'): void {
    this.mode = 'blackhole';
    this.heldDirection = direction;
    for (const p of this.pairs) this.applyHold(p);
  }

  /** Restores the link: listening again after a cut, held traffic released after a blackhole. */
  async heal(): Promise<void> {
    const wasCut = this.mode === 'cut';
    this.mode = 'up';
    if (wasCut || this.server === null) await this.listen();
    for (const p of this.pairs) this.applyHold(p);
  }

  /**
   * Flaps the link on a seeded schedule for `durationMs`: up for a time drawn from `upMs`,
   * then down (cut or blackhole) for a time drawn from `downMs`, and so on; healed at the end.
   */
  flap(opts: {
    upMs: [number, number];
    downMs: [number, number];
    kind: 'cut' | 'blackhole';
    durationMs: number;
  }): Flapping {
    let stopRequested = false;
    let wake: (() => void) | undefined;
    let downs = 0;
    const sleep = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const t = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    const deadline = Date.now() + opts.durationMs;
    const done = (async () => {
      while (!stopRequested && !this.stopped && Date.now() < deadline) {
        await sleep(Math.min(this.rng.range(...opts.upMs), Math.max(0, deadline - Date.now())));
        if (stopRequested || this.stopped || Date.now() >= deadline) break;
        downs++;
        if (opts.kind === 'cut') await this.cut();
        else this.blackhole('both');
        await sleep(Math.min(this.rng.range(...opts.downMs), Math.max(0, deadline - Date.now())));
        if (!this.stopped) await this.heal();
      }
      if (!this.stopped && this.mode !== 'up') await this.heal();
    })();
    const stop = async (): Promise<void> => {
      stopRequested = true;
      wake?.();
      await done;
    };
    this.flapping.add(stop);
    void done.finally(() => this.flapping.delete(stop));
    return {
      done,
      stop,
      get downs() {
        return downs;
      },
    };
  }

  /** Stops flapping, closes every connection and the listener. Safe twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const stop of [...this.flapping]) await stop();
    this.mode = 'cut';
    const server = this.server;
    this.server = null;
    for (const p of [...this.pairs]) p.close();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** @internal Called by a pair once closed. */
  forget(pair: Pair): void {
    this.pairs.delete(pair);
  }

  private applyHold(p: Pair): void {
    const holding = this.mode === 'blackhole';
    p.up.held = holding && this.heldDirection !== 'toClient';
    p.down.held = holding && this.heldDirection !== 'toTarget';
    // A new connection reaches the target only once client→target traffic may flow.
    if (!p.up.held) p.connect();
    p.up.flush();
    p.down.flush();
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const server = createServer((client) => this.accept(client));
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(this.portValue, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        // The old listener's port may linger for a moment after a cut.
        if (attempt >= 50 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const addr = server.address();
    if (typeof addr === 'object' && addr !== null) this.portValue = addr.port;
    this.server = server;
  }

  private accept(client: Socket): void {
    if (this.mode === 'cut' || this.stopped || this.pairs.size >= this.maxConnections) {
      this.stats.refused++;
      client.destroy();
      return;
    }
    this.stats.accepted++;
    client.setNoDelay(true);
    const pair = new Pair(this, client);
    this.pairs.add(pair);
    this.applyHold(pair);
  }
}
