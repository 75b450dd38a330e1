/**
 * Builds the libp2p node net-sync runs: TCP, Noise, Yamux, gossipsub (signed, scored), identify,
 * ping, optional bootstrap. Kept apart from MeshNode so that the wiring reads in one place, and
 * loaded only when a node starts (mesh-node.ts): a sidecar without a mesh never loads libp2p.
 */
import { createHash } from 'node:crypto';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { bootstrap } from '@libp2p/bootstrap';
import { gossipsub, StrictSign, type GossipSub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import type { Identify } from '@libp2p/identify';
import type { PrivateKey } from '@libp2p/interface';
import { ping, type Ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { createLibp2p, type Libp2p } from 'libp2p';
import { NetSyncError } from '../core/errors.js';
import { MESH_SCORE_THRESHOLDS, MESH_TOPIC_SCORE, meshScoreParams } from './score-params.js';

/** Services of the net-sync libp2p node. */
export interface MeshServices extends Record<string, unknown> {
  pubsub: GossipSub;
  identify: Identify;
  ping: Ping;
}

/** The net-sync libp2p node. */
export type MeshLibp2p = Libp2p<MeshServices>;

/** Inputs of {@link buildLibp2p}. */
export interface Libp2pFactoryOptions {
  privateKey: PrivateKey;
  listen: readonly string[];
  announce: readonly string[];
  bootstrap: readonly string[];
  mdns: boolean;
  topic: string;
  /** Largest envelope; the RPC frame cap is set well above it (docs/libp2p.md, pitfall 2). */
  maxEnvelopeBytes: number;
  /** More topics scored and allowed like `topic` (a home shard's); more can be added later ({@link allowTopic} in gossip-topics.ts). */
  extraTopics?: readonly string[];
  /**
   * How often libp2p's connection monitor pings each connection (its RTT, and its abort of a
   * connection that stops answering), ms. Default libp2p's 10 s.
   */
  pingIntervalMs?: number;
  /** Gossipsub's application-specific score (P5, weight 1) of a peer; default 0. */
  appSpecificScore?: (peerId: string) => number;
}

/**
 * The gossipsub fast message ID: SHA-256 of (from, seqno, data) straight from the RPC, so a
 * duplicate copy is dropped before its signature is verified (pitfall 1). `from` and `seqno`
 * are included so that one node republishing identical bytes is not taken for a duplicate.
 * A full hash, not a 32-bit one: a collision here drops a distinct message silently.
 */
export function fastMsgId(msg: { from?: Uint8Array; seqno?: Uint8Array; data?: Uint8Array }): string {
  const from = msg.from ?? new Uint8Array();
  const seqno = msg.seqno ?? new Uint8Array();
  const h = createHash('sha256');
  // Length-prefixed, so that no two (from, seqno) splits of the same bytes collide.
  h.update(Uint8Array.of(from.length & 0xff, seqno.length & 0xff));
  h.update(from);
  h.update(seqno);
  h.update(msg.data ?? new Uint8Array());
  return h.digest('base64');
}

// The fleet topic's parameters for every topic, and the caller's P5 (members' colocation refund).
function scoreParams(opts: Libp2pFactoryOptions): ReturnType<typeof meshScoreParams> {
  const params = meshScoreParams(opts.topic);
  for (const topic of opts.extraTopics ?? []) params.topics = { ...params.topics, [topic]: { ...MESH_TOPIC_SCORE } };
  const app = opts.appSpecificScore;
  return app === undefined ? params : { ...params, appSpecificScore: (peerId: string) => app(peerId) };
}

/** Creates the libp2p node, not started. */
export async function buildLibp2p(opts: Libp2pFactoryOptions): Promise<MeshLibp2p> {
  if (opts.mdns) {
    // @libp2p/mdns is not a dependency: failing loudly beats silently running without discovery.
    throw new NetSyncError(
      'CONFIG_INVALID',
      'mesh.mdns: mDNS discovery is not available in this build (@libp2p/mdns is not installed)',
      {
        field: 'mesh.mdns',
      },
    );
  }
  return createLibp2p<MeshServices>({
    start: false,
    privateKey: opts.privateKey,
    addresses: { listen: [...opts.listen], announce: [...opts.announce] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(opts.pingIntervalMs === undefined ? {} : { connectionMonitor: { pingInterval: opts.pingIntervalMs } }),
    // Bootstrap dials once at start (docs/libp2p.md, pitfall 5); static peers have their own redial loop.
    peerDiscovery: opts.bootstrap.length > 0 ? [bootstrap({ list: [...opts.bootstrap] })] : [],
    services: {
      pubsub: gossipsub({
        globalSignaturePolicy: StrictSign,
        // Own envelopes are not echoed: emitSelf would also bypass the validator (pitfall 4).
        emitSelf: false,
        // A publish nobody hears is an error the caller must see, not a silent loss.
        allowPublishToZeroTopicPeers: false,
        fastMsgIdFn: fastMsgId,
        // No gossipsub direct peers: they bypass score graylisting and are re-dialled only every
        // 5 minutes. Static peers are kept connected by StaticPeerKeeper instead and stay scored.
        directPeers: [],
        doPX: false,
        scoreParams: scoreParams(opts),
        scoreThresholds: { ...MESH_SCORE_THRESHOLDS },
        // The frame cap fails silently (pitfall 2); the envelope limit is enforced by the
        // validator, so keep the frame cap far above it.
        maxInboundDataLength: Math.max(4 * 1024 * 1024, 8 * opts.maxEnvelopeBytes),
        allowedTopics: [opts.topic, ...(opts.extraTopics ?? [])],
      }),
      identify: identify(),
      ping: ping(),
    },
  });
}
