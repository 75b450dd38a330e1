/**
 * Repairs a gossipsub peer state that nothing else repairs: a shard mate connected to us whose
 * subscription to our home topic gossipsub has not recorded.
 *
 * How it happens (measured: test/integration/consensus/fleet-sidecars.test.ts with the stale
 * connection probe forced to fail, docs/fleet.md "Connections"): when a peer has two connections
 * to us and one of them is closed or aborted while the other stays open (a stale-connection
 * repair, both ends repairing at once, a simultaneous dial), gossipsub (@libp2p/gossipsub 17)
 * reacts to the read error of the stream on the closed connection by dropping all of the peer's
 * state, its subscriptions included, although the peer is still connected. It is re-added when a
 * stream arrives on the surviving connection, but the peer sends its subscriptions only when it
 * creates its outbound stream, and its outbound stream, half-closed by us, still looks open to it.
 * The peer's subscription then stays missing for as long as the connection lives (over 60 s in
 * the test), so our shard sees one member fewer and may lose its quorum.
 *
 * Here: every `intervalMs`, each connected mate missing from the home topic's subscribers is
 * noted; one still missing after `graceMs` is hung up on, so that gossipsub sees a clean
 * disconnect and a clean connect on both ends (which re-sends subscriptions both ways), and the
 * static-peer loop (or the mate's) dials it again. At most once per `cooldownMs` per mate.
 */
import type { Clock } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';

/** What {@link SubscriptionWatch} reads and does. */
export interface SubscriptionWatchOptions {
  /** The home shard's mates (this node excluded), now; empty without a home shard. */
  mates(): readonly string[];
  /** True while at least one connection to `peerId` is open. */
  connected(peerId: string): boolean;
  /** Peers gossipsub has recorded as subscribed to the home topic, now. */
  subscribers(): readonly string[];
  /** Closes every connection to `peerId` (its loop or the peer dials again). */
  hangUp(peerId: string): Promise<void>;
  /** A description of gossipsub's state for `peerId`, for the repair's log line. */
  describe?(peerId: string): Record<string, unknown>;
  /** Called once per repair (`net_sync_mesh_subscription_repairs_total`). */
  onRepair?(): void;
  clock: Clock;
  log: Logger;
  /** How long a connected mate may lack its subscription before the repair, ms. Default 10 s. */
  graceMs?: number;
  /** Least time between two repairs of one mate, ms. Default 30 s. */
  cooldownMs?: number;
}

/** Tracks connected mates without a recorded home-topic subscription; {@link check} repairs them. */
export class SubscriptionWatch {
  // Mate → when it was first seen connected without its subscription.
  private readonly missingSince = new Map<string, number>();
  private readonly lastRepair = new Map<string, number>();

  constructor(private readonly opts: SubscriptionWatchOptions) {}

  /** One pass: notes missing subscriptions, repairs those missing past the grace. Never throws. */
  async check(): Promise<string[]> {
    const { clock } = this.opts;
    const now = clock.now();
    const subscribed = new Set(this.opts.subscribers());
    const repaired: string[] = [];
    const mates = new Set(this.opts.mates());
    for (const id of this.missingSince.keys()) if (!mates.has(id)) this.missingSince.delete(id);
    for (const mate of mates) {
      if (subscribed.has(mate) || !this.opts.connected(mate)) {
        this.missingSince.delete(mate);
        continue;
      }
      const since = this.missingSince.get(mate);
      if (since === undefined) {
        this.missingSince.set(mate, now);
        continue;
      }
      if (now - since < (this.opts.graceMs ?? 10_000)) continue;
      const last = this.lastRepair.get(mate);
      if (last !== undefined && now - last < (this.opts.cooldownMs ?? 30_000)) continue;
      this.lastRepair.set(mate, now);
      this.missingSince.delete(mate);
      this.opts.onRepair?.();
      this.opts.log.warn(
        { peer: mate, missingMs: now - since, gossipsub: this.opts.describe?.(mate) },
        'connected shard mate without its home-topic subscription; reconnecting it',
      );
      repaired.push(mate);
      await this.opts.hangUp(mate).catch((err: unknown) => {
        this.opts.log.info({ peer: mate, err: (err as Error).message }, 'hang-up for a subscription repair failed');
      });
    }
    return repaired;
  }
}
