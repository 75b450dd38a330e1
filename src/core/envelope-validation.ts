/**
 * The gossip validator's decision, as a pure function: bytes in, a verdict and a bounded
 * reason out. The mesh adapter maps the verdict to gossipsub's TopicValidatorResult, so that a
 * peer sending junk loses score (reject) while a peer we merely do not listen to does not (ignore).
 */
import { decodeEnvelope, type DecodeFailureReason } from './envelope-codec.js';
import { decodeSignature, envelopeAuthor, proposeDigestMatches, type Envelope } from './envelope.js';

/** Bytes of an Ed25519 signature, the only key type net-sync identities use. */
const SIGNATURE_BYTES = 64;
import type { GossipVerdict } from './ports.js';

/** Every reason an inbound envelope can be refused. Bounded: used as a metric label. */
export type EnvelopeRefusalReason =
  | DecodeFailureReason
  /** The envelope's claimed author differs from the gossip message's signed `from`. */
  | 'author-mismatch'
  /** A proposed intent whose `payloadDigest` is not the digest of its payload. */
  | 'digest-mismatch'
  /** An endorsement signature that is not a well-formed signature (checked by the committer otherwise). */
  | 'bad-signature'
  /** The author is not in the configured cohort (or not a member of the fleet). */
  | 'not-in-cohort'
  /** On a home shard's topic: the author is not a member of that shard. */
  | 'not-in-shard';

/** All refusal reasons, for pre-registering metric label values. */
export const ENVELOPE_REFUSAL_REASONS: readonly EnvelopeRefusalReason[] = [
  'oversized',
  'malformed',
  'unknown-version',
  'unknown-kind',
  'schema',
  'author-mismatch',
  'digest-mismatch',
  'bad-signature',
  'not-in-cohort',
  'not-in-shard',
];

/**
 * Verdict per reason. Forged, corrupt or oversized input is `reject` (gossipsub penalises the
 * forwarding peer). A newer version or kind is `ignore`: during a rolling upgrade, upgraded
 * peers must not be graylisted by the ones not yet upgraded. Cohort outsiders are `ignore`:
 * open-mode peers may relay them legitimately.
 */
export const REFUSAL_VERDICT: Readonly<Record<EnvelopeRefusalReason, Exclude<GossipVerdict, 'accept'>>> = {
  oversized: 'reject',
  malformed: 'reject',
  'unknown-version': 'ignore',
  'unknown-kind': 'ignore',
  schema: 'reject',
  'author-mismatch': 'reject',
  'digest-mismatch': 'reject',
  'bad-signature': 'reject',
  'not-in-cohort': 'ignore',
  // Ignored, not rejected: members reload their lists one by one, so plans briefly differ.
  'not-in-shard': 'ignore',
};

/** Checks a signature by `peerId`'s key; false (never a throw) when it does not verify. */
export type SignatureVerifier = (peerId: string, bytes: Uint8Array, signature: Uint8Array) => Promise<boolean>;

/** What the validator knows besides the bytes. */
export interface EnvelopeValidationContext {
  /** Largest envelope accepted, bytes. */
  maxBytes: number;
  /** Peer IDs whose envelopes are delivered; empty means everyone (open mode). */
  cohort: ReadonlySet<string>;
  /** On a home shard's topic: the shard's members, the only authors delivered there. */
  shard?: ReadonlySet<string>;
}

/** The validator's outcome. */
export type EnvelopeValidation =
  | { verdict: 'accept'; envelope: Envelope }
  | { verdict: 'ignore' | 'reject'; reason: EnvelopeRefusalReason; detail: string };

/**
 * Validates one inbound envelope published by `author` (the gossip message's signed `from`):
 * decode (size first), claimed author, cohort, proposal digests, endorsement signatures.
 */
export async function validateEnvelope(
  bytes: Uint8Array,
  author: string,
  ctx: EnvelopeValidationContext,
): Promise<EnvelopeValidation> {
  const decoded = decodeEnvelope(bytes, ctx.maxBytes);
  if (!decoded.ok) return refuse(decoded.reason, decoded.detail);
  const envelope = decoded.envelope;
  if (envelopeAuthor(envelope) !== author) {
    return refuse('author-mismatch', `${envelope.kind} claims another author than its signer`);
  }
  if (ctx.cohort.size > 0 && !ctx.cohort.has(author)) return refuse('not-in-cohort', 'author outside cohort');
  if (ctx.shard !== undefined && !ctx.shard.has(author)) return refuse('not-in-shard', 'author outside the shard');
  if (envelope.kind === 'intent.propose') {
    const bad = envelope.intents.find((item) => !proposeDigestMatches(item));
    if (bad !== undefined) return refuse('digest-mismatch', `payloadDigest of ${bad.correlationId}`);
  }
  if (envelope.kind === 'intent.endorse') {
    // Only the shape here: gossipsub's signed message already proves the author, and the
    // committer checks each signature it commits, once (docs/consensus.md).
    const bad = envelope.endorsements.find((item) => decodeSignature(item.signature)?.length !== SIGNATURE_BYTES);
    if (bad !== undefined) return refuse('bad-signature', `endorsement of ${bad.correlationId}`);
  }
  return { verdict: 'accept', envelope };
}

function refuse(reason: EnvelopeRefusalReason, detail: string): EnvelopeValidation {
  return { verdict: REFUSAL_VERDICT[reason], reason, detail };
}
