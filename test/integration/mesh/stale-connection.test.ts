/**
 * The reconnect case gossipsub is known to get wrong: a peer comes back on a new connection
 * while we still hold its old, silently dead one (a partition or NAT drop: no FIN, no RST).
 * A freezable TCP proxy between B and A makes the old connection half-open on A's side.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { waitFor } from '../../support/wait-for.js';
import { addrOf, counter, disposeAll, heartbeat, startNode, type TestNode } from './mesh-fixture.js';

interface Pair {
  client: Socket;
  upstream: Socket;
  frozen: boolean;
}

/** Forwards 127.0.0.1:<port> to a target port. Frozen pairs neither forward data nor closes. */
class FreezableProxy {
  readonly pairs: Pair[] = [];
  private server: Server | undefined;

  async start(targetPort: number): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      const pair: Pair = { client, upstream, frozen: false };
      this.pairs.push(pair);
      client.on('data', (d) => pair.frozen || upstream.write(d));
      upstream.on('data', (d) => pair.frozen || client.write(d));
      client.on('close', () => pair.frozen || upstream.destroy());
      upstream.on('close', () => pair.frozen || client.destroy());
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return (this.server.address() as { port: number }).port;
  }

  freezeAll(): void {
    for (const p of this.pairs) p.frozen = true;
  }

  /** Finally lets the target see the frozen connections die. */
  killFrozen(): void {
    for (const p of this.pairs) if (p.frozen) p.upstream.destroy();
  }

  async stop(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise((r) => this.server?.close(r));
  }
}

afterEach(disposeAll);

async function exchange(a: TestNode, b: TestNode, what: string, timeoutMs = 8_000): Promise<void> {
  const t0 = Date.now();
  await waitFor(
    async () => {
      await b.node.publish(heartbeat(b.node.peerId)).catch(() => undefined);
      return a.received.some((r) => r.from === b.node.peerId && r.atMs >= t0);
    },
    `${what}: a hears b`,
    timeoutMs,
    50,
  );
  await waitFor(
    async () => {
      await a.node.publish(heartbeat(a.node.peerId)).catch(() => undefined);
      return b.received.some((r) => r.from === a.node.peerId && r.atMs >= t0);
    },
    `${what}: b hears a`,
    timeoutMs,
    50,
  );
}

describe('peer returns while its old connection is half-open', () => {
  test('gossip flows both ways on the new connection, and after the old one finally dies', async () => {
    const a = await startNode();
    const proxy = new FreezableProxy();
    const port = await proxy.start(Number(addrOf(a).split('/')[4]));
    const viaProxy = `/ip4/127.0.0.1/tcp/${port}/p2p/${a.node.peerId}`;
    let b = await startNode({ peers: [viaProxy] });
    try {
      await exchange(a, b, 'before');
      proxy.freezeAll();
      await b.node.stop(); // A is not told: its side of the old connection stays open
      expect(a.node.peers()).toContain(b.node.peerId);
      b = await startNode({ key: b.key, peers: [viaProxy] });
      const t0 = Date.now();
      // The old connection is probed twice (2 s, then 5 s) before it is judged stale.
      await exchange(a, b, 'new connection beside the stale one', 15_000);
      console.log(
        `stale connection: gossip both ways again ${Date.now() - t0} ms after the peer restarted (probes of 2 s and 5 s)`,
      );
      expect(await counter(a, 'net_sync_mesh_stale_connections_total')).toBe(1);
      proxy.killFrozen(); // the stale socket finally dies (A already aborted it): nothing changes
      await exchange(a, b, 'after the stale connection closed');
    } finally {
      await proxy.stop();
    }
  });
});
