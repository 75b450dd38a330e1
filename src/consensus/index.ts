/**
 * Consensus owns agreement over gossip before the commit path: proposals, endorsements by the
 * cohort or home shard, quorum, the takeover ranks and the `intent.committed` announcements. The
 * rules are the pure functions of core/consensus.ts; docs/consensus.md explains them.
 */
export { ConsensusDriver, type ConsensusDriverOptions, type ConsensusEvent } from './consensus-driver.js';
export { createConsensusMetrics, type ConsensusMetrics } from './metrics.js';
export type { LocalEvent } from './proposal-intake.js';
