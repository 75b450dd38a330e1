/**
 * Config section `mesh`: the libp2p gossip mesh (listen and peer addresses, identity, topic).
 */
import { z } from 'zod';
import { zDurationMs } from '../../core/units.js';
import { multiaddr, peerAddr } from './fields.js';

/** Section `mesh`. */
export const MeshSchema = z
  .object({
    /**
     * Consensus over the mesh even at quorum 1: intents are proposed and endorsed, so peers hold
     * copies. Off by default: a single node is its own quorum. The mesh itself also runs (for a
     * quorum above 1, and) for telemetry with `telemetry.summarise: scouts` when `peers`,
     * `bootstrap` or `telemetry.scout` is set; then intents still skip consensus unless this is
     * on or the quorum is above 1.
     */
    enabled: z.boolean().default(false),
    /** Listen multiaddrs. Loopback, ephemeral port by default. */
    listen: z.array(multiaddr).default(['/ip4/127.0.0.1/tcp/0']),
    /** Addresses announced to peers instead of the listen ones (e.g. a proxy). */
    announce: z.array(multiaddr).default([]),
    /** Static peers, kept connected with redial and backoff. */
    peers: z.array(peerAddr).default([]),
    /**
     * Longest wait between redials of a lost static peer (from 1 s, doubling, full jitter). 10 s:
     * after a partition heals, each side redials within 10 s (plus a dial still hanging, up to its
     * 10 s timeout), for a dial every ~5 s on average per absent peer. 1 s to 10 min.
     */
    redialMaxMs: zDurationMs
      .default(10_000)
      .refine((v) => v >= 1_000 && v <= 600_000, 'must be between 1 s and 10 min'),
    /** Optional bootstrap list (dialled at start). */
    bootstrap: z.array(peerAddr).default([]),
    /**
     * mDNS discovery: not supported (production meshes are configured explicitly, and
     * @libp2p/mdns is not a dependency), so `true` is refused here rather than ignored.
     */
    mdns: z
      .boolean()
      .default(false)
      .refine((v) => !v, 'mDNS discovery is not supported: list the peers in mesh.peers or mesh.bootstrap'),
    /** Ed25519 identity file (protobuf), mode 0600. Created on first start if missing. */
    keyFile: z.string().default('./net-sync.key'),
    /** Gossip topic for intents. */
    topic: z.string().default('/root-solar/sentiment/1.0.0'),
  })
  .strict();
