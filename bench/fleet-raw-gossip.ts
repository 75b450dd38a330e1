/**
 * The fleet benchmark's raw gossip baseline: N libp2p nodes built exactly as a sidecar builds its
 * own (TCP, Noise, Yamux, scored gossipsub), in this process, fully dialled on 127.0.0.1, each
 * publishing one small message per second (a sidecar's heartbeat rate) with an accept-all
 * validator. Its CPU per node per second is the transport's floor under a sidecar's idle cost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import { multiaddr } from '@multiformats/multiaddr';
import { buildLibp2p, generateIdentity } from '../src/mesh/index.js';
import { freePort } from '../src/nats/nats-server-process.js';

const TOPIC = '/root-solar/sentiment/1.0.0';

// What mesh-node.ts reads too: the gossipsub mesh of a topic is not in the public interface.
interface MeshInternals {
  getMeshPeers(topic: string): string[];
}

/** Figures of one raw gossip run. */
export interface RawGossipFigures {
  nodes: number;
  seconds: number;
  /** This process's CPU per node per second of the window, ms. */
  cpuMsPerNodePerSecond: number;
  /** Messages each node received per second (mean). */
  receivedPerNodePerSecond: number;
  /** Smallest topic mesh among the nodes when the window began. */
  meshPeersMin: number;
}

/** Runs `count` nodes for a warm-up, then measures `windowMs`; every node is stopped after. */
export async function rawGossipIdle(count: number, windowMs: number): Promise<RawGossipFigures> {
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const nodes = await Promise.all(
    ports.map(async (p) =>
      buildLibp2p({
        privateKey: await generateIdentity(),
        listen: [`/ip4/127.0.0.1/tcp/${p}`],
        announce: [],
        bootstrap: [],
        mdns: false,
        topic: TOPIC,
        maxEnvelopeBytes: 256 * 1024,
      }),
    ),
  );
  let received = 0;
  let publishing = true;
  try {
    for (const node of nodes) {
      node.services.pubsub.topicValidators.set(TOPIC, () => TopicValidatorResult.Accept);
      await node.start();
      node.services.pubsub.subscribe(TOPIC);
      node.services.pubsub.addEventListener('message', () => received++);
    }
    for (let i = 0; i < count; i++)
      await Promise.all(
        nodes
          .slice(i + 1)
          .map((n, k) =>
            nodes[i]!.dial(multiaddr(`/ip4/127.0.0.1/tcp/${ports[i + 1 + k]}/p2p/${n.peerId.toString()}`)).catch(
              () => undefined,
            ),
          ),
      );
    const body = new Uint8Array(160).fill(0x61);
    // Each node publishes once a second, staggered, until the run ends.
    const loops = nodes.map(async (n, i) => {
      await sleep((1000 * i) / count);
      while (publishing) {
        Promise.resolve(n.services.pubsub.publish(TOPIC, body)).catch(() => undefined);
        await sleep(1000);
      }
    });
    await sleep(3_000); // grafts and JIT
    const meshPeersMin = Math.min(
      ...nodes.map((n) => (n.services.pubsub as unknown as MeshInternals).getMeshPeers(TOPIC).length),
    );
    const cpu0 = process.cpuUsage();
    const r0 = received;
    const t0 = performance.now();
    await sleep(windowMs);
    const cpu = process.cpuUsage(cpu0);
    const seconds = (performance.now() - t0) / 1000;
    publishing = false;
    await Promise.all(loops);
    return {
      nodes: count,
      seconds,
      cpuMsPerNodePerSecond: (cpu.user + cpu.system) / 1000 / seconds / count,
      receivedPerNodePerSecond: (received - r0) / seconds / count,
      meshPeersMin,
    };
  } finally {
    publishing = false;
    await Promise.all(nodes.map((n) => Promise.resolve(n.stop()).catch(() => undefined)));
  }
}
