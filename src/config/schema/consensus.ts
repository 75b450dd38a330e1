/**
 * Config section `consensus`: quorum, cohort or fleet members, policy and takeover timings.
 */
import { z } from 'zod';
import { zDurationMs } from '../../core/units.js';

/** Section `consensus`. */
export const ConsensusSchema = z
  .object({
    /**
     * Endorsements needed: a count, or `majority` of the cohort, or per home shard in a fleet
     * (`members`), where a count may not exceed a shard. 1 = the node alone.
     */
    quorum: z.union([z.number().int().positive(), z.literal('majority')]).default(1),
    /**
     * Peer IDs allowed to propose and endorse, all of them endorsing every intent: one shard.
     * Required when consensus is on, unless `members` (a fleet) or `openMembership`.
     */
    cohort: z.array(z.string()).default([]),
    /**
     * The fleet: peer IDs that may propose, relay and send telemetry. Each member's intents are
     * endorsed and committed by its home shard (docs/fleet.md). Env: comma-separated.
     */
    members: z.array(z.string().min(1)).default([]),
    /**
     * File of more members, one peer ID per line (`#` starts a comment), read at start and again
     * on SIGHUP, so members join or leave without a fleet-wide restart.
     */
    membersFile: z.string().min(1).optional(),
    /**
     * Members per home shard (the fleet forms max(1, ⌊members ÷ shardSize⌋) shards). 7: with a
     * majority quorum of 4 a shard commits with 3 of its members down, while a host carries about 7
     * members' intents, not the fleet's (issue 21's capacity model).
     */
    shardSize: z.number().int().positive().default(7),
    /**
     * Consensus without a cohort: any peer that can dial the mesh may propose and endorse, so a
     * few fresh identities can carry their own intents to quorum. Off: a cohort is required.
     */
    openMembership: z.boolean().default(false),
    /** Endorsement policy: auto (schema + allow-list) or agent (asked over SSE). */
    policy: z.enum(['auto', 'agent']).default('auto'),
    /** How long an intent may wait for quorum before it expires. */
    ttlMs: zDurationMs.default(60_000),
    /**
     * Wait before the next-ranked endorser takes over the commit: rank k after k × this. 500 ms
     * keeps a dead committer inside the 500 ms-to-1 s commit budget (docs/seeds.md); a live but slow one
     * costs only the taker's stream lookup, since it reads the stream before any publish.
     */
    takeoverMs: zDurationMs.default(500),
    /** How long the agent has to answer under `policy: agent`; silence is an abstention. */
    agentTimeoutMs: zDurationMs.default(2_000),
  })
  .strict();

/** True when `consensus` configures a fleet of home shards (`members` or `membersFile`) rather than a cohort. */
export function fleetConfigured(consensus: { members: readonly string[]; membersFile?: string | undefined }): boolean {
  return consensus.members.length > 0 || consensus.membersFile !== undefined;
}
