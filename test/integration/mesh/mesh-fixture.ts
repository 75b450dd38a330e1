/**
 * Real libp2p nodes on loopback for mesh tests: a MeshNode factory with per-node metrics and
 * an "evil" raw gossipsub node that publishes arbitrary bytes. Everything started is stopped
 * by `disposeAll()`, last-in first-out.
 */
import { gossipsub, StrictSign, type GossipSub } from '@libp2p/gossipsub';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { PrivateKey } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import { Registry } from 'prom-client';
import type { Envelope, HeartbeatEnvelope } from '../../../src/core/envelope.js';
import { generateIdentity } from '../../../src/mesh/identity.js';
import { MeshNode, type MeshNodeOptions } from '../../../src/mesh/mesh-node.js';
import { createMeshMetrics, type MeshMetrics } from '../../../src/mesh/metrics.js';
import { waitFor } from '../../support/wait-for.js';

export const TOPIC = '/root-solar/sentiment/1.0.0';

export interface TestNode {
  node: MeshNode;
  key: PrivateKey;
  metrics: MeshMetrics;
  registry: Registry;
  received: Array<{ envelope: Envelope; from: string; atMs: number }>;
}

const disposers: Array<() => Promise<void>> = [];

/** Stops everything started here, last first. */
export async function disposeAll(): Promise<void> {
  while (disposers.length > 0) await disposers.pop()!().catch(() => undefined);
}

/** Starts a MeshNode on 127.0.0.1 (ephemeral port unless `listen` is given). */
export async function startNode(
  over: Partial<Omit<MeshNodeOptions, 'config'>> & { peers?: string[]; listen?: string[]; key?: PrivateKey } = {},
): Promise<TestNode> {
  const key = over.key ?? (await generateIdentity());
  const registry = new Registry();
  const metrics = createMeshMetrics(registry);
  const node = new MeshNode({
    ...over,
    privateKey: key,
    metrics,
    config: {
      listen: over.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      announce: [],
      peers: over.peers ?? [],
      bootstrap: [],
      mdns: false,
      topic: TOPIC,
    },
  });
  const received: TestNode['received'] = [];
  node.onEnvelope((envelope, from) => received.push({ envelope, from, atMs: Date.now() }));
  await node.start();
  disposers.push(() => node.stop());
  return { node, key, metrics, registry, received };
}

/** The node's first address (with /p2p/). */
export function addrOf(t: TestNode): string {
  const a = t.node.multiaddrs()[0];
  if (a === undefined) throw new Error('node has no address');
  return a;
}

/** A heartbeat envelope from `peerId`. */
export function heartbeat(peerId: string, atMs = Date.now()): HeartbeatEnvelope {
  return { schemaVersion: 1, kind: 'heartbeat', peerId, roles: [], atMs };
}

/** Current value of a counter with the given labels. */
export async function counter(t: TestNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await t.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values =
    (metric as unknown as { values: Array<{ value: number; labels: Record<string, string> }> } | undefined)?.values ??
    [];
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

/** A raw gossipsub node with no validator, for publishing junk at a MeshNode. */
export interface EvilNode {
  libp2p: Libp2p<{ pubsub: GossipSub }>;
  peerId: string;
  publishRaw(bytes: Uint8Array): Promise<void>;
}

export async function startEvilNode(dialAddr: string): Promise<EvilNode> {
  const libp2p = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({ globalSignaturePolicy: StrictSign, allowPublishToZeroTopicPeers: true, emitSelf: false }),
    },
  });
  disposers.push(async () => {
    await libp2p.stop();
  });
  libp2p.services.pubsub.subscribe(TOPIC);
  await libp2p.dial(multiaddr(dialAddr));
  // It publishes to zero peers without complaint: wait until it knows the dialled node subscribes,
  // or a loaded machine can make its first messages go nowhere.
  await waitFor(() => libp2p.services.pubsub.getSubscribers(TOPIC).length > 0, 'the evil node sees a subscriber');
  return {
    libp2p,
    peerId: libp2p.peerId.toString(),
    publishRaw: async (bytes) => {
      await libp2p.services.pubsub.publish(TOPIC, bytes);
    },
  };
}
