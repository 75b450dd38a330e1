/**
 * Keeps configured static peers connected. libp2p's bootstrap dials once at start, and its
 * keep-alive reconnect queue gives up after 5 tries and then drops the tag, so a peer that is
 * down for a minute would never be dialled again. Here each peer has one loop: while connected
 * it waits for a disconnect (or a periodic check); while not, it dials with exponential backoff
 * and full jitter, capped, until `stop()`.
 */
import { backoffDelayMs, type BackoffPolicy } from '../core/backoff.js';
import { hasCode } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import type { MeshMetrics } from './metrics.js';

/** A static peer: its peer ID and a dialable multiaddr ending in `/p2p/<peerId>`. */
export interface StaticPeer {
  peerId: string;
  addr: string;
}

/** What the keeper needs from the node. */
export interface StaticPeerKeeperOptions {
  peers: readonly StaticPeer[];
  /** Dials `addr`; resolves once connected. Must honour `signal`. */
  dial(addr: string, signal: AbortSignal): Promise<void>;
  /** True while at least one connection to `peerId` is open. */
  isConnected(peerId: string): boolean;
  /** Delay between failed dials. */
  backoff: BackoffPolicy;
  /** How long one dial may take, ms. */
  dialTimeoutMs: number;
  /** While connected, how often to re-check in case a disconnect event was missed, ms. */
  checkIntervalMs: number;
  clock: Clock;
  log: Logger;
  metrics?: MeshMetrics;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** One redial loop per static peer. `start()` returns at once; `stop()` cancels and awaits the loops. */
export class StaticPeerKeeper {
  private readonly abort = new AbortController();
  private readonly wakers = new Map<string, AbortController>();
  // Disconnects reported while the peer's loop was not waiting (dialling or backing off).
  private readonly missedWakes = new Set<string>();
  private loops: Promise<void>[] = [];
  private readonly kept = new Set<string>();
  private started = false;

  constructor(private readonly opts: StaticPeerKeeperOptions) {}

  /** Starts a loop per peer. */
  start(): void {
    this.started = true;
    for (const peer of this.opts.peers) this.add(peer);
  }

  /** True when `peerId` has a loop (configured, or added since). */
  keeps(peerId: string): boolean {
    return this.kept.has(peerId);
  }

  /** Keeps one more peer connected (a shard mate learnt at run time); no-op when it is kept already or after stop. */
  add(peer: StaticPeer): void {
    if (!this.started || this.abort.signal.aborted || this.kept.has(peer.peerId)) return;
    this.kept.add(peer.peerId);
    this.loops.push(this.keep(peer));
  }

  /** Tells the loop of `peerId` (if any) that it disconnected, so it redials now rather than at the next check. */
  notifyDisconnected(peerId: string): void {
    const waker = this.wakers.get(peerId);
    if (waker !== undefined) waker.abort();
    else if (this.kept.has(peerId)) this.missedWakes.add(peerId);
  }

  /** Cancels every loop and in-flight dial, and waits for them. Safe to call twice. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private async keep(peer: StaticPeer): Promise<void> {
    const { log } = this.opts;
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      if (this.opts.isConnected(peer.peerId)) {
        attempt = 0;
        await this.waitForDisconnect(peer.peerId);
        continue;
      }
      try {
        await this.opts.dial(
          peer.addr,
          AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.dialTimeoutMs)]),
        );
        this.opts.metrics?.redials.inc({ outcome: 'connected' });
        log.info({ peer: peer.peerId, attempts: attempt + 1 }, 'static peer connected');
        attempt = 0;
      } catch (err) {
        if (this.abort.signal.aborted) break;
        this.opts.metrics?.redials.inc({ outcome: 'failed' });
        const delayMs = backoffDelayMs(this.opts.backoff, attempt, this.opts.random ?? Math.random);
        // First failure at info (a peer went away), repeats at debug: a long outage must not flood the log.
        const level = attempt === 0 ? 'info' : 'debug';
        log[level]({ peer: peer.peerId, attempt, delayMs, err: (err as Error).message }, 'static peer dial failed');
        attempt++;
        await this.sleep(delayMs);
      }
    }
  }

  private async waitForDisconnect(peerId: string): Promise<void> {
    if (this.missedWakes.delete(peerId)) return;
    const waker = new AbortController();
    this.wakers.set(peerId, waker);
    try {
      await this.opts.clock.sleep(this.opts.checkIntervalMs, AbortSignal.any([this.abort.signal, waker.signal]));
    } catch (err) {
      if (!hasCode(err, 'ABORTED')) throw err;
    } finally {
      if (this.wakers.get(peerId) === waker) this.wakers.delete(peerId);
    }
  }

  private async sleep(ms: number): Promise<void> {
    try {
      await this.opts.clock.sleep(ms, this.abort.signal);
    } catch (err) {
      if (!hasCode(err, 'ABORTED')) throw err;
    }
  }
}
