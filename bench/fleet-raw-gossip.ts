/**
 * The fleet benchmark's raw gossip baseline: N libp2p nodes built exactly as a sidecar builds its
 * own (TCP, Noise, Yamux, scored gossipsub), in this process, fully dialled on 127.0.0.1, each
 * publishing one small message per second (a sidecar's heartbeat rate) with an accept-all
 * validator. Its CPU per node per second is the transport's floor under a sidecar's idle cost.
 */
import { RAW_TOPIC as TOPIC, rawNodeAddr, startRawGossipNodes } from './raw-gossip-nodes.js';
import { setTimeout as sleep } from 'node:timers/promises';

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
  const { nodes, ports } = await startRawGossipNodes(count);
  let received = 0;
  let publishing = true;
  try {
    for (const node of nodes) node.services.pubsub.addEventListener('message', () => received++);
    for (let i = 0; i < count; i++)
      await Promise.all(
        nodes.slice(i + 1).map((_n, k) => nodes[i]!.dial(rawNodeAddr(nodes, ports, i + 1 + k)).catch(() => undefined)),
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
