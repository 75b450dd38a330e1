/**
 * The raw gossipsub baseline the benchmarks share: bare libp2p nodes built exactly as a sidecar
 * builds its own (`buildLibp2p`: TCP, Noise, Yamux, scored gossipsub) on loopback, started and
 * subscribed to the card's topic with an accept-all validator. How they dial and what they
 * publish is each benchmark's own.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub';
import { multiaddr } from '@multiformats/multiaddr';
import { generateIdentity } from '../src/mesh/index.js';
import { buildLibp2p } from '../src/mesh/libp2p-factory.js';
import { freePort } from '../src/devkit/nats-server-process.js';

/** The topic every raw node subscribes to. */
export const RAW_TOPIC = '/root-solar/sentiment/1.0.0';

/** One started raw node. */
export type RawGossipNode = Awaited<ReturnType<typeof buildLibp2p>>;

/** `count` nodes, started and subscribed; the caller stops them. */
export async function startRawGossipNodes(count: number): Promise<{ nodes: RawGossipNode[]; ports: number[] }> {
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const nodes = await Promise.all(
    ports.map(async (p) =>
      buildLibp2p({
        privateKey: await generateIdentity(),
        listen: [`/ip4/127.0.0.1/tcp/${p}`],
        announce: [],
        bootstrap: [],
        mdns: false,
        topic: RAW_TOPIC,
        maxEnvelopeBytes: 256 * 1024,
      }),
    ),
  );
  try {
    for (const node of nodes) {
      node.services.pubsub.topicValidators.set(RAW_TOPIC, () => TopicValidatorResult.Accept);
      await node.start();
      node.services.pubsub.subscribe(RAW_TOPIC);
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => Promise.resolve(n.stop()).catch(() => undefined)));
    throw err;
  }
  return { nodes, ports };
}

/** The address node `j` of a {@link startRawGossipNodes} set is dialled at. */
export function rawNodeAddr(nodes: RawGossipNode[], ports: number[], j: number): ReturnType<typeof multiaddr> {
  return multiaddr(`/ip4/127.0.0.1/tcp/${ports[j]}/p2p/${nodes[j]!.peerId.toString()}`);
}
