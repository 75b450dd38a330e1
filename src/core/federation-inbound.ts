/**
 * The verdict on an event envelope received from a partner (docs/federation.md, Receiving):
 * accepted only when it is a DSSE envelope of the event type, at least `threshold` distinct
 * signatures verify against the partner's keys valid when *our* stream stored it, it comes from
 * that partner, is addressed to us and its `eventId` is the message's `Nats-Msg-Id`. Equivocation
 * (an ID accepted before with another digest) needs the receiver's record, so the caller checks
 * it with the digest returned here. Pure, apart from the verifier port.
 */
import { sha256Hex } from './digest.js';
import { decodeEnvelope } from './dsse.js';
import { checkEventPayload, FEDERATION_EVENT_TYPE, type FederationEventPayload } from './federation-message.js';
import { checkThreshold, type FederationReason, type SignatureVerifier, type TrustedKey } from './federation-trust.js';

/** What the receiver knows about one message. */
export interface InboundContext {
  /** The partner whose subject it arrived on. */
  partner: string;
  /** Our `federation.name`. */
  us: string;
  keys: readonly TrustedKey[];
  threshold: number;
  /** When our stream stored the message (ms): key windows are judged at this time. */
  storedAtMs: number;
  /** The message's `Nats-Msg-Id` (undefined when it has none). */
  msgId: string | undefined;
  verifier: SignatureVerifier;
  /** Lower-case hex SHA-256; default the pure one ({@link sha256Hex}). A sidecar passes node:crypto's, faster. */
  sha256?: (bytes: Uint8Array) => string;
}

/** The verdict, with the digest a receipt names either way. */
export type InboundVerdict =
  | { accepted: true; event: FederationEventPayload; digest: string; signers: string[] }
  | { accepted: false; reason: FederationReason; digest: string; detail?: string };

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Judges one received message body; never throws. */
export async function judgeInboundEvent(message: Uint8Array, ctx: InboundContext): Promise<InboundVerdict> {
  const hash = ctx.sha256 ?? sha256Hex;
  const decoded = decodeEnvelope(message);
  if (!decoded.ok) return { accepted: false, reason: 'malformed', digest: hash(message), detail: decoded.message };
  const env = decoded.envelope;
  const digest = hash(env.body);
  if (env.payloadType !== FEDERATION_EVENT_TYPE) return { accepted: false, reason: 'payload-type', digest };
  const trust = await checkThreshold(env, ctx.keys, ctx.threshold, ctx.storedAtMs, ctx.verifier);
  if (!trust.ok) return { accepted: false, reason: trust.reason, digest };
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(env.body));
  } catch {
    return { accepted: false, reason: 'malformed', digest, detail: 'payload: is not UTF-8 JSON' };
  }
  const checked = checkEventPayload(parsed);
  if (!checked.ok) return { accepted: false, reason: 'malformed', digest, detail: checked.message };
  const event = checked.value;
  if (event.from !== ctx.partner) return { accepted: false, reason: 'wrong-sender', digest };
  if (event.to !== ctx.us) return { accepted: false, reason: 'wrong-recipient', digest };
  if (event.eventId !== ctx.msgId) return { accepted: false, reason: 'id-mismatch', digest };
  return { accepted: true, event, digest, signers: trust.signers };
}
