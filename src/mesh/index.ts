/**
 * src/mesh owns the libp2p side of net-sync: the node's identity file, the libp2p node
 * (TCP, Noise, Yamux, gossipsub with signed messages and deliberate peer scores), the topic
 * validator that maps core envelope verdicts to gossipsub's accept/ignore/reject, static-peer
 * redial, and the mesh metrics. It implements the core `Gossip` port; nothing here decides
 * consensus. Import `src/polyfills.ts` before this module on Node 20.
 */
export * from './identity.js';
// Types only: the factory itself loads libp2p, so it is imported where a node is built
// (mesh-node.ts loads it on start; benches import it directly).
export type { Libp2pFactoryOptions, MeshLibp2p, MeshServices } from './libp2p-factory.js';
export { MeshNode, staticPeers, type MeshNodeOptions } from './mesh-node.js';
export { createMeshMetrics, type MeshMetrics, type PublishFailureLabel } from './metrics.js';
export { MESH_SCORE_THRESHOLDS, MESH_TOPIC_SCORE, meshScoreParams } from './score-params.js';
export { StaticPeerKeeper, type StaticPeer, type StaticPeerKeeperOptions } from './static-peers.js';
