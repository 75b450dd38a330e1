/**
 * Metrics of the consensus driver: how intents end on this node, and how often a lower-ranked
 * endorser had to take a commit over. `net_sync_endorsement_latency_seconds` is registered by
 * `observability/ops-metrics.ts` (timed at promotion), so it is not registered twice here.
 */
import { Counter, type Registry } from 'prom-client';

/** How an intent ended on this node, as counted by `net_sync_consensus_intents_total`. */
export type ConsensusOutcome = 'committed' | 'expired' | 'rejected';

/** Every outcome, for pre-registering the label values. */
export const CONSENSUS_OUTCOMES: readonly ConsensusOutcome[] = ['committed', 'expired', 'rejected'];

/** Why this node declined to endorse a proposal, as counted by `net_sync_consensus_refusals_total`. */
export type ProposalRefusal =
  | 'expired'
  | 'origin-not-a-member'
  | 'self-not-in-shard'
  | 'digest-mismatch'
  | 'federation-off'
  | 'subject-not-allowed'
  | 'payload-too-large'
  | 'payload-ref-bucket'
  | 'agent-declined'
  /** A federation event refused by this node's partners and rules (their own reasons are logged). */
  | 'federation-refused';

/** Every refusal reason, for pre-registering the label values. */
export const PROPOSAL_REFUSALS: readonly ProposalRefusal[] = [
  'expired',
  'origin-not-a-member',
  'self-not-in-shard',
  'digest-mismatch',
  'federation-off',
  'subject-not-allowed',
  'payload-too-large',
  'payload-ref-bucket',
  'agent-declined',
  'federation-refused',
];

/** The consensus driver's metrics. */
export interface ConsensusMetrics {
  /**
   * Intents by outcome on this node: `committed` (this node's copy was committed, by its own
   * PubAck or by `intent.committed` gossip), `expired` (its copy reached the TTL without
   * quorum), `rejected` (this node declined to endorse a proposal: checks failed, or the agent
   * vetoed or abstained; counted once per intent).
   */
  intents: Counter<'outcome'>;
  /** Proposals this node declined to endorse, by reason (once per intent, like `rejected`). */
  refusals?: Counter<'reason'>;
  /** Promotions by an endorser of rank ≥ 1, i.e. after the higher-ranked ones' slots passed. */
  takeovers: Counter;
  /** Endorsements whose signature failed the committer's check (dropped, never committed). */
  badEndorsements?: Counter;
  /** Endorsement signatures verified on this node (each endorsement of an intent at most once). */
  signatureChecks?: Counter;
}

/** Registers the consensus metrics on `register`. Label values are pre-initialised to 0. */
export function createConsensusMetrics(register: Registry): ConsensusMetrics {
  const registers = [register];
  const metrics: ConsensusMetrics = {
    intents: new Counter({
      name: 'net_sync_consensus_intents_total',
      help: 'Intents by how they ended on this node: committed, expired, or rejected (not endorsed here)',
      labelNames: ['outcome'],
      registers,
    }),
    refusals: new Counter({
      name: 'net_sync_consensus_refusals_total',
      help: 'Proposals this node declined to endorse, by reason (counted once per intent)',
      labelNames: ['reason'],
      registers,
    }),
    takeovers: new Counter({
      name: 'net_sync_consensus_takeovers_total',
      help: 'Commits promoted by an endorser of rank 1 or lower after the higher ranks did not commit',
      registers,
    }),
    badEndorsements: new Counter({
      name: 'net_sync_consensus_bad_endorsements_total',
      help: 'Endorsements dropped because their signature did not verify when their intent was promoted',
      registers,
    }),
    signatureChecks: new Counter({
      name: 'net_sync_consensus_signature_checks_total',
      help: 'Endorsement signatures verified on this node (each endorsement of an intent at most once)',
      registers,
    }),
  };
  for (const outcome of CONSENSUS_OUTCOMES) metrics.intents.inc({ outcome }, 0);
  for (const reason of PROPOSAL_REFUSALS) metrics.refusals?.inc({ reason }, 0);
  return metrics;
}
