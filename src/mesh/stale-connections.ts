/**
 * Workaround for a gossipsub gap (js-libp2p, @libp2p/gossipsub 17): when a peer comes back on a
 * new connection while we still hold its old one, half-open after a crash or partition (no FIN
 * reached us), gossipsub keeps its outbound stream on the dead connection (`createOutboundStream`
 * returns early when one exists). Our subscriptions never reach the peer and our messages go into
 * the void, in both directions, until the old connection is reaped and the peer reconnects
 * again. Reproduced by test/integration/mesh/stale-connection.test.ts.
 *
 * Here: when a second connection to a peer opens, each older one is probed with a ping stream.
 * Healthy duplicates (simultaneous dials) answer and are kept. If one does not answer within
 * `probeTimeoutMs`, nor within `retryTimeoutMs` on a second try (a loaded host: at a load of
 * 25-30 on 2 cores a healthy connection missed the 2 s alone, and repairing a healthy duplicate
 * is what loses gossipsub state, see subscription-watch.ts), it is aborted and we hang up on the
 * peer altogether, then dial it again:
 * gossipsub then sees a clean disconnect and a clean connect on both sides, which re-sends
 * subscriptions both ways. (Aborting only the stale connection is not enough: gossipsub reacts
 * to the dead inbound stream by dropping the peer's state, including its live streams, and
 * re-running identify repairs only our direction. Measured in the test above.)
 */
import type { Connection } from '@libp2p/interface';
import type { Logger } from '../observability/logger.js';
import type { MeshLibp2p } from './libp2p-factory.js';
import type { MeshMetrics } from './metrics.js';

const PING_PROTOCOL = '/ipfs/ping/1.0.0';
const PING_BYTES = 32;

/** True when `conn` carries a ping round trip within `timeoutMs`. */
export async function probeConnection(conn: Connection, timeoutMs: number): Promise<boolean> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const stream = await conn.newStream(PING_PROTOCOL, { signal });
    const answered = new Promise<boolean>((resolve) => {
      let received = 0;
      stream.addEventListener('message', (evt) => {
        received += evt.data.byteLength;
        if (received >= PING_BYTES) resolve(true);
      });
      stream.addEventListener('close', () => resolve(received >= PING_BYTES));
      signal.addEventListener('abort', () => resolve(false), { once: true });
    });
    stream.send(crypto.getRandomValues(new Uint8Array(PING_BYTES)));
    const ok = await answered;
    stream.abort(new Error('probe done'));
    return ok;
  } catch {
    return false;
  }
}

/** Watches `connection:open` and repairs gossipsub after a peer returns beside a stale connection. */
export class StaleConnectionGuard {
  private readonly checking = new Set<string>();

  constructor(
    private readonly node: MeshLibp2p,
    private readonly log: Logger,
    private readonly metrics: MeshMetrics | undefined,
    private readonly probeTimeoutMs = 2_000,
    private readonly retryTimeoutMs = 5_000,
  ) {}

  /** Listener for libp2p's `connection:open`. Never throws. */
  readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const conn = evt.detail;
    const id = conn.remotePeer.toString();
    if (this.checking.has(id) || this.older(conn).length === 0) return;
    this.checking.add(id);
    this.check(conn)
      .catch((err: unknown) => this.log.warn({ err, peer: id }, 'stale connection check failed'))
      .finally(() => this.checking.delete(id));
  };

  private older(conn: Connection): Connection[] {
    return this.node
      .getConnections(conn.remotePeer)
      .filter((c) => c !== conn && c.status === 'open' && c.timeline.open <= conn.timeline.open);
  }

  private async check(fresh: Connection): Promise<void> {
    const results = await Promise.all(
      this.older(fresh).map(async (c) => ({
        c,
        ok:
          (await probeConnection(c, this.probeTimeoutMs)) ||
          (c.status === 'open' && (await probeConnection(c, this.retryTimeoutMs))),
      })),
    );
    // A connection closed meanwhile is gone already; only open ones that never answered are stale.
    const stale = results.filter((r) => !r.ok && r.c.status === 'open').map((r) => r.c);
    if (stale.length === 0 || fresh.status !== 'open') return;
    const peer = fresh.remotePeer;
    for (const c of stale) c.abort(new Error('stale connection: peer answered on a newer one'));
    this.metrics?.staleConnections.inc(stale.length);
    this.log.info({ peer: peer.toString(), stale: stale.length }, 'aborted stale connections; reconnecting peer');
    await this.node.hangUp(peer, { signal: AbortSignal.timeout(5_000) });
    // If the peer keeps us as a static peer it redials too; a second healthy connection is fine.
    await this.node.dial(peer, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
      this.log.info(
        { peer: peer.toString(), err: (err as Error).message },
        'redial after stale connection failed; waiting for the peer',
      );
    });
  }
}
