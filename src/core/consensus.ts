/**
 * Consensus rules, pure: quorum size, cohort membership, endorsement checks, committer ranking,
 * the takeover schedule and TTL expiry. No I/O and no timers: callers pass the time in, and
 * signature checks go through an injected verifier.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { SignatureVerifier } from './envelope-validation.js';
import { decodeSignature, endorsementBytes } from './envelope.js';
import { NetSyncError } from './errors.js';

/** `consensus.quorum` as configured: an absolute count, or a majority of the cohort. */
export type QuorumSetting = number | 'majority';

/**
 * The number of distinct endorsements an intent needs. `majority` is ⌊n/2⌋+1 of the distinct
 * cohort members and needs a cohort (open mode has no fixed membership to take a majority
 * of). A count larger than a given cohort could never be reached. Both are CONFIG_INVALID
 * naming `consensus.quorum`.
 */
export function resolveQuorum(setting: QuorumSetting, cohort: readonly string[]): number {
  const size = new Set(cohort).size;
  if (setting === 'majority') {
    if (size === 0) throw quorumError('majority needs consensus.cohort (open mode has no fixed membership)');
    return Math.floor(size / 2) + 1;
  }
  if (!Number.isInteger(setting) || setting < 1) throw quorumError('must be a positive integer or "majority"');
  if (size > 0 && setting > size) throw quorumError(`${setting} exceeds the cohort of ${size}`);
  return setting;
}

function quorumError(message: string): NetSyncError {
  return new NetSyncError('CONFIG_INVALID', `consensus.quorum: ${message}`, { field: 'consensus.quorum' });
}

/**
 * True when intents go through propose/endorse/commit rather than straight to the outbox as
 * `pending-commit`: the mesh is on, or a quorum above 1 was asked for.
 */
export function consensusEnabled(quorum: QuorumSetting, meshEnabled: boolean): boolean {
  return meshEnabled || quorum === 'majority' || quorum > 1;
}

/** True when `peerId` may endorse: any peer in open mode (empty cohort), else cohort members. */
export function inCohort(peerId: string, cohort: ReadonlySet<string>): boolean {
  return cohort.size === 0 || cohort.has(peerId);
}

/** Distinct endorsers of `endorsers` that count towards the quorum (cohort members, or all in open mode). */
export function countingEndorsers(endorsers: Iterable<string>, cohort: ReadonlySet<string>): number {
  let n = 0;
  for (const p of new Set(endorsers)) if (inCohort(p, cohort)) n++;
  return n;
}

/** True when the distinct counting endorsers reach `quorum`. */
export function hasQuorum(endorsers: Iterable<string>, quorum: number, cohort: ReadonlySet<string>): boolean {
  return countingEndorsers(endorsers, cohort) >= quorum;
}

const encoder = new TextEncoder();

/**
 * The ranking key of `peerId` for one intent: hex SHA-256 of the UTF-8 of `correlationId`
 * immediately followed by `peerId` (a ULID has a fixed 26 characters, so no separator is needed).
 * Every node computes the same keys, so every node agrees on the order.
 */
export function rankKey(correlationId: string, peerId: string): string {
  return bytesToHex(sha256(encoder.encode(correlationId + peerId)));
}

/** `peerIds` (deduplicated) in committer order for `correlationId`: lowest rank key first. */
export function rankCommitters(correlationId: string, peerIds: Iterable<string>): string[] {
  const keyed = [...new Set(peerIds)].map((p) => ({ p, k: rankKey(correlationId, p) }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.p < b.p ? -1 : a.p > b.p ? 1 : 0));
  return keyed.map((x) => x.p);
}

/** `self`'s 0-based committer rank among `endorsers`, or -1 when it is not one of them. */
export function committerRank(correlationId: string, endorsers: Iterable<string>, self: string): number {
  return rankCommitters(correlationId, endorsers).indexOf(self);
}

/**
 * When the endorser of rank `rank` promotes the intent: rank 0 `settleMs` after quorum is held
 * (time for the other endorsements in flight to arrive, so that every node ranks the same set),
 * rank k another k × `takeoverMs` later unless an `intent.committed` arrived first. Ms since epoch.
 */
export function takeoverAtMs(quorumAtMs: number, rank: number, takeoverMs: number, settleMs = 0): number {
  return quorumAtMs + settleMs + Math.max(0, rank) * takeoverMs;
}

/** Time an intent created at `createdAtMs` expires without quorum, ms since epoch. */
export function expiresAtMs(createdAtMs: number, ttlMs: number): number {
  return createdAtMs + ttlMs;
}

/** True once `nowMs` has reached the intent's expiry. */
export function isExpired(createdAtMs: number, ttlMs: number, nowMs: number): boolean {
  return nowMs >= expiresAtMs(createdAtMs, ttlMs);
}

/** One endorsement as carried in a command body: a peer and its base64url signature. */
export interface SignedEndorsement {
  peerId: string;
  signature: string;
}

/**
 * True when `e.signature` is `e.peerId`'s signature over `endorsementBytes(correlationId,
 * payloadDigest)`. Never throws: malformed input is false.
 */
export async function verifyEndorsement(
  e: SignedEndorsement,
  correlationId: string,
  payloadDigest: string,
  verify: SignatureVerifier,
): Promise<boolean> {
  const sig = typeof e.signature === 'string' ? decodeSignature(e.signature) : null;
  if (sig === null || sig.length === 0 || typeof e.peerId !== 'string') return false;
  try {
    return await verify(e.peerId, endorsementBytes(correlationId, payloadDigest), sig);
  } catch {
    return false;
  }
}
