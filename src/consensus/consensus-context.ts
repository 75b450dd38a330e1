/**
 * What the parts of the consensus driver share: the options (ports, hooks, tuning), this node's
 * identity and cohort, the intents it tracks, and its three gossip batchers.
 */
import type { CohortFederation } from '../core/federation-cohort.js';
import type { CommitItem, EndorsementItem, ProposeItem } from '../core/envelope.js';
import type { PayloadRef } from '../core/payload-ref.js';
import type { IntentLimits } from '../core/intent-input.js';
import type { Clock, Gossip, Membership, Outbox, StreamReader } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import type { ConsensusMetrics } from './metrics.js';
import type { GossipBatcher } from './gossip-batcher.js';
import type { IntentBook } from './intent-book.js';

/** Events the driver reports to the local agent (SSE). */
export type ConsensusEvent =
  | 'intent:proposed'
  | 'intent:endorsed'
  | 'intent:committed'
  | 'intent:expired'
  | 'intent:endorsement-requested';

/** Collaborators and tuning of the consensus driver. */
export interface ConsensusDriverOptions {
  outbox: Outbox;
  gossip: Gossip;
  clock: Clock;
  logger: Logger;
  /** Called after a promotion, so the committer publishes at once. */
  wakeCommitter: () => void;
  /** Reports an event to the local agent. Must not throw. */
  emit: (event: ConsensusEvent, data: Record<string, unknown>) => void;
  /** Submission limits and the subject prefix (allow-list `<prefix>.command.`). */
  limits: IntentLimits;
  /**
   * Stores a local payload too large for gossip and returns its reference (durable when it
   * resolves), or undefined to gossip it inline (docs/payloads.md). Absent: always inline.
   */
  externalise?: (
    correlationId: string,
    payload: unknown,
    payloadBytes: number,
    canonical?: Uint8Array,
  ) => Promise<PayloadRef | undefined>;
  /**
   * `payloads.bucket`: a proposal whose `payloadRef` names another bucket is refused
   * (`payload-ref-bucket`), since this node's committer would look for the object there. Absent: not checked.
   */
  payloadBucket?: string;
  /** Endorsements needed (resolved: see `resolveQuorum`). Ignored when `membership` is given. */
  quorum?: number;
  /** Peers allowed to endorse; empty = open mode. Ignored when `membership` is given. */
  cohort?: readonly string[];
  /**
   * Who endorses whose intents: a fleet's home shards (docs/fleet.md). Absent: `cohort` and
   * `quorum`, one shard. Asked afresh at every decision, so a reloaded member list applies at once.
   */
  membership?: Membership;
  /** `auto`: schema and subject decide; `agent`: the local agent is asked and may veto. */
  policy: 'auto' | 'agent';
  /** How long an intent may wait for quorum, ms (at most a day). */
  ttlMs: number;
  /** Wait per rank before a lower-ranked endorser takes over the commit, ms. */
  takeoverMs: number;
  /** How long the agent has to answer under `agent` policy, ms; silence abstains. */
  agentTimeoutMs: number;
  newId: (nowMs: number) => string;
  randomHex: (bytes: number) => string;
  /** Consensus metrics; none are recorded when absent. */
  metrics?: ConsensusMetrics;
  /**
   * Reads the stream back. When given, an intent reaching its TTL here is first looked up in
   * the stream: a peer may have committed it while this node missed the `intent.committed`
   * gossip (a partition). Found → committed; absent → expired; unreadable → retried later.
   */
  reader?: StreamReader;
  /** Clock-skew allowance for that lookup, ms. Default 5,000. */
  scanSkewMs?: number;
  /** Scheduling period (takeovers, expiry, re-proposals), ms. Default 100. */
  tickMs?: number;
  /** Longest wait of a proposal, endorsement or commit before its batch is sent, ms. Default 20. */
  batchDelayMs?: number;
  /** Items per propose/endorse/committed message. Default 256. */
  batchMaxItems?: number;
  /**
   * Largest envelope the mesh sends, bytes; proposal batches are cut to stay under it.
   * Default `DEFAULT_MAX_ENVELOPE_BYTES` (256 KiB), as the mesh node's.
   */
  maxEnvelopeBytes?: number;
  /**
   * Wait after quorum before rank 0 promotes, so endorsements still in flight arrive and every
   * node ranks the same endorser set (two nodes each ranking themselves first would both publish;
   * the duplicate window would absorb it, at the cost of a publish). Skipped once every cohort
   * member has endorsed. Default 2 × batchDelayMs.
   */
  settleMs?: number;
  /** Own proposals still short of quorum are re-gossiped this often, ms. Default 5,000. */
  reproposeMs?: number;
  /** Re-proposals sent per tick at most (gossip has no backpressure). Default 20. */
  reproposePerTick?: number;
  /**
   * A promotion this long after the intent's creation, or by a takeover, lets the committer look
   * the ID up in the stream before publishing (another node may have published it, maybe
   * outside the duplicate window). Default 30,000 ms; the service passes
   * `takeoverLookupAfterMs()` of its streams.
   */
  lookupAfterMs?: number;
  /**
   * Federation events (docs/federation.md, Sending with consensus on): checks a proposed event
   * against this node's partners, signs it with this node's federation key (DSSE), verifies the
   * signatures a promotion assembles. Absent: federation proposals are not endorsed.
   */
  federation?: CohortFederation;
}

/** The state and collaborators every part of the driver works with. */
export interface ConsensusContext {
  readonly opts: ConsensusDriverOptions;
  /** This node's peer ID. */
  readonly self: string;
  readonly membership: Membership;
  readonly book: IntentBook;
  readonly proposals: GossipBatcher<ProposeItem>;
  readonly endorsements: GossipBatcher<EndorsementItem>;
  readonly commits: GossipBatcher<CommitItem>;
}
