/**
 * How many valid signatures of ours an event of ours needs (docs/federation.md): the consensus
 * quorum (of a shard in a fleet), 1 with consensus off. `federation verify` and a cohort member
 * checking an event it never held both apply it.
 */
import { consensusEnabled, resolveQuorum } from '../core/consensus.js';
import { type Config, fleetConfigured } from './schema.js';

/** Valid signatures of ours an event needs: the consensus quorum (of a shard in a fleet), 1 with consensus off. */
export function ourThreshold(config: Config): number {
  const { consensus } = config;
  if (!consensusEnabled(consensus.quorum, config.mesh.enabled)) return 1;
  if (fleetConfigured(consensus))
    return consensus.quorum === 'majority' ? Math.floor(consensus.shardSize / 2) + 1 : consensus.quorum;
  return resolveQuorum(consensus.quorum, consensus.cohort);
}
