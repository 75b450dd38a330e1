/**
 * Exempts fleet members from gossipsub's IP-colocation penalty (P6). A fleet behind one NAT
 * address, or a test host, puts many honest members on one IP: past the threshold (10) P6
 * takes every peer there below the graylist threshold, and the mesh empties (issue 21). P6 is
 * per IP in gossipsub, so it cannot be lifted per peer; instead a member gets its P6 back through
 * the application-specific score (P5), and a non-member on a crowded IP keeps the penalty.
 */
import type { Multiaddr } from '@multiformats/multiaddr';

/** What the refund needs from the node and the score parameters. */
export interface ColocationRefundOptions {
  /** The node's open connections. */
  connections(): ReadonlyArray<{ remotePeer: { toString(): string }; remoteAddr: Multiaddr }>;
  /** True for a peer exempt from P6 (a member). */
  exempt(peerId: string): boolean;
  /** `IPColocationFactorWeight` (negative) and `IPColocationFactorThreshold` of the score parameters. */
  weight: number;
  threshold: number;
  /** How long one count of peers per IP is reused, ms (scores are computed at every heartbeat). Default 1,000. */
  cacheMs?: number;
  now?: () => number;
}

/** The P5 score that cancels a member's P6 (0 for anyone else). */
export class ColocationRefund {
  private cached: { atMs: number; penalty: Map<string, number> } | null = null;

  constructor(private readonly opts: ColocationRefundOptions) {}

  /** The refund of `peerId`: minus its P6 when it is exempt, else 0. */
  score(peerId: string): number {
    if (!this.opts.exempt(peerId)) return 0;
    const penalty = this.penalties().get(peerId);
    return penalty === undefined ? 0 : -penalty;
  }

  // P6 per peer as gossipsub computes it: for each of its IPs with more than `threshold` peers,
  // weight × surplus².
  private penalties(): Map<string, number> {
    const now = (this.opts.now ?? Date.now)();
    if (this.cached !== null && now - this.cached.atMs < (this.opts.cacheMs ?? 1_000)) return this.cached.penalty;
    const peersByIp = new Map<string, Set<string>>();
    const ipsByPeer = new Map<string, Set<string>>();
    for (const c of this.opts.connections()) {
      const ip = c.remoteAddr.getComponents().find((x) => x.name === 'ip4' || x.name === 'ip6')?.value;
      if (ip === undefined) continue;
      const peer = c.remotePeer.toString();
      if (!peersByIp.has(ip)) peersByIp.set(ip, new Set());
      peersByIp.get(ip)!.add(peer);
      if (!ipsByPeer.has(peer)) ipsByPeer.set(peer, new Set());
      ipsByPeer.get(peer)!.add(ip);
    }
    const penalty = new Map<string, number>();
    for (const [peer, ips] of ipsByPeer) {
      let p = 0;
      for (const ip of ips) {
        const surplus = peersByIp.get(ip)!.size - this.opts.threshold;
        if (surplus > 0) p += surplus * surplus * this.opts.weight;
      }
      if (p !== 0) penalty.set(peer, p);
    }
    this.cached = { atMs: now, penalty };
    return penalty;
  }
}
