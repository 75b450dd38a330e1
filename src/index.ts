import './polyfills.js';
/**
 * The net-sync package entry: offline verification of committed intents, the typed client of
 * the local HTTP API, and the main types. The sidecar itself runs through the `net-sync` CLI.
 */
import {
  verifyCommit as verifyCommitWith,
  type CommittedMessage,
  type CommitVerification,
  type VerifyCommitOptions,
} from './core/commit-verification.js';
import { verifyPeerSignature } from './mesh/peer-signature.js';

/** Options of {@link verifyCommit}: as the core's, with `verify` defaulting to the peer ID's own key. */
export type VerifyOptions = Omit<VerifyCommitOptions, 'verify'> & Partial<Pick<VerifyCommitOptions, 'verify'>>;

/**
 * Checks a committed command message offline: digest, IDs, every endorsement's signature
 * against the key embedded in its (Ed25519) peer ID, distinct endorsers in the cohort, quorum.
 */
export function verifyCommit(message: CommittedMessage, opts: VerifyOptions = {}): Promise<CommitVerification> {
  return verifyCommitWith(message, { ...opts, verify: opts.verify ?? verifyPeerSignature });
}

export { verifyPeerSignature };
export { type InboxMessage, NetSyncClient, type NetSyncClientOptions, type NetSyncEvent } from './api/client.js';
export type { IntentView } from './api/api-server.js';
export type { BatchAnswer, BatchItemError, BatchItemResult } from './core/intent-batch.js';
export type {
  CommitProblem,
  CommitProblemCode,
  CommitVerification,
  CommittedMessage,
} from './core/commit-verification.js';
export type { CommandBody, Endorsement } from './core/command-message.js';
export { HEADER } from './core/command-message.js';
export type { QuorumSetting } from './core/consensus.js';
export { payloadDigest, canonicalJson } from './core/digest.js';
export { endorsementBytes } from './core/envelope.js';
export type { Envelope } from './core/envelope.js';
export { INTENT_STATES, type IntentState } from './core/intent.js';
export { NetSyncError, type ErrorCode } from './core/errors.js';
export type { Config } from './config/schema.js';
export { resolvePayloadRef, type ResolvePayloadOptions } from './nats/resolve-payload-ref.js';
export {
  decodePayload,
  encodePayload,
  type PayloadRef,
  PayloadRefError,
  type PayloadRefProblem,
  payloadRefOf,
} from './core/payload-ref.js';
