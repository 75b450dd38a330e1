/**
 * A MeshNode in its own OS process, for crash tests (compiled by the test into a temp dir).
 * argv[2] is JSON: { keyFile, listen, peers, publishEveryMs }. Writes JSON lines to stdout:
 * `ready` (peerId, addrs), `envelope` (from, kind). Publishes a heartbeat every publishEveryMs.
 * Exits when stdin closes, so a dying test never leaves it behind.
 */
import '../../../src/polyfills.js';
import { loadIdentity } from '../../../src/mesh/identity.js';
import { MeshNode } from '../../../src/mesh/mesh-node.js';

interface ChildArgs {
  keyFile: string;
  listen: string[];
  peers: string[];
  publishEveryMs: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const out = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ...line, atMs: Date.now() })}\n`);
};

const node = new MeshNode({
  privateKey: await loadIdentity(args.keyFile),
  config: {
    listen: args.listen,
    announce: [],
    peers: args.peers,
    bootstrap: [],
    mdns: false,
    topic: '/root-solar/sentiment/1.0.0',
  },
  redialBackoff: { baseMs: 200, maxMs: 1_000, minMs: 50 },
});
node.onEnvelope((envelope, from) => out({ event: 'envelope', from, kind: envelope.kind }));
await node.start();
out({ event: 'ready', peerId: node.peerId, addrs: node.multiaddrs() });
const timer = setInterval(() => {
  node
    .publish({ schemaVersion: 1, kind: 'heartbeat', peerId: node.peerId, roles: [], atMs: Date.now() })
    .catch(() => undefined);
}, args.publishEveryMs);
const shutdown = (): void => {
  clearInterval(timer);
  void node.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.resume();
