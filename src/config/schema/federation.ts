/**
 * Config section `federation` (docs/federation.md): this organisation's name and signing keys,
 * and its partners with their pinned keys. Federation is off while `name` is unset.
 */
import { z } from 'zod';
import { ORG_NAME } from '../../core/federation-message.js';
import type { TrustedKey } from '../../core/federation-trust.js';
import { isEd25519PeerId } from '../../core/peer-key.js';
import { zDurationMs } from '../../core/units.js';

// Keys are Ed25519 peer IDs: the key ID of a DSSE signature, with the public key inside it.
const ed25519PeerId = z.string().refine(isEd25519PeerId, 'must be an Ed25519 peer ID (12D3KooW…)');
const orgName = z.string().regex(ORG_NAME, 'must be 1-32 characters of [a-z0-9-] (one subject token)');
const isoTime = z
  .string()
  .refine((s) => /^\d{4}-\d\d-\d\dT/.test(s) && Number.isFinite(Date.parse(s)), 'must be an ISO-8601 time');
const subject = z
  .string()
  .max(256, 'at most 256 characters')
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a concrete NATS subject (no wildcards)');

/** A signing key with its validity: from `notBefore` (inclusive) until `notAfter` (exclusive). */
const KeyObjectSchema = z
  .object({
    id: ed25519PeerId,
    /** Signatures by this key count from this time on (ISO-8601). */
    notBefore: isoTime.optional(),
    /** Signatures by this key stop counting at this time: the key is retired (ISO-8601). */
    notAfter: isoTime.optional(),
  })
  .strict()
  .refine(
    (k) => k.notBefore === undefined || k.notAfter === undefined || Date.parse(k.notBefore) < Date.parse(k.notAfter),
    {
      message: 'must be later than notBefore',
      path: ['notAfter'],
    },
  );

/** A partner's signing key: a peer ID, valid from `notBefore` (inclusive) until `notAfter` (exclusive). */
const KeySchema = z.preprocess((v) => (typeof v === 'string' ? { id: v } : v), KeyObjectSchema);

/**
 * One of our signers: a peer ID or `{id, notBefore?, notAfter?}`. A union (not a preprocess), so
 * that NET_SYNC_FEDERATION_SIGNERS stays a comma-separated list of peer IDs.
 */
const SignerSchema = z.union([
  ed25519PeerId.transform((id): { id: string; notBefore?: string; notAfter?: string } => ({ id })),
  KeyObjectSchema,
]);

export const PartnerSchema = z
  .object({
    /** The partner's name: one subject token, `<P>` in its subjects. */
    name: orgName,
    /** We may send events to it (`POST /v1/federation/events` names it). */
    send: z.boolean().default(false),
    /** We accept its events. */
    receive: z.boolean().default(false),
    /** Its signing keys, pinned: a peer ID, or `{id, notBefore?, notAfter?}`. */
    keys: z.array(KeySchema).default([]),
    /** Distinct valid signatures needed on what it sends. 1: one host of the partner speaks for it. */
    threshold: z.number().int().positive().default(1),
    /** Our events to it. Default `<prefix>.federation.outbound.events.<name>`. */
    eventsSubject: subject.optional(),
    /** Its receipts to us. Default `<prefix>.federation.inbound.acks.<name>`. */
    acksSubject: subject.optional(),
  })
  .strict()
  .refine((p) => !p.receive || p.keys.length >= p.threshold, {
    message: 'must not exceed the number of keys (receive: true)',
    path: ['threshold'],
  });

export const FederationSchema = z
  .object({
    /** This organisation's name as partners know it (one subject token). Unset: federation is off. */
    name: orgName.optional(),
    /** The Ed25519 key this sidecar signs federation messages with. Default: `mesh.keyFile`. */
    keyFile: z.string().min(1).optional(),
    /**
     * This organisation's published signing keys, the set partners pin; must hold our key. A peer
     * ID, or `{id, notBefore?, notAfter?}` as a partner's keys: a retired key (`notAfter`) still
     * verifies what was stored before it, never what came after (`federation verify`).
     */
    signers: z.array(SignerSchema).default([]),
    /** An event without a valid receipt after this is a gap. 60 s: a minute covers a partner's restart. */
    ackTimeoutMs: zDurationMs.default(60_000),
    /**
     * Events of one receive partner in flight at once (its consumer's max ack pending): they are
     * verified, recorded and receipted together in batches. Pushes to the agent stay at most
     * `inbox.maxAckPending` at once.
     */
    maxAckPending: z.number().int().min(1).max(10_000).default(256),
    /** Where events received from partners are pushed (the inbox's convention). */
    pushUrl: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL')
      .optional(),
    /** The partner organisations. */
    partners: z.array(PartnerSchema).default([]),
  })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.partners.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', message: 'is listed twice', path: ['partners', i, 'name'] });
      seen.add(p.name);
    });
  });

/** The validated `federation` section. */
export type FederationConfig = z.output<typeof FederationSchema>;
/** One validated partner. */
export type PartnerConfig = FederationConfig['partners'][number];

/** The peer IDs of `federation.signers`, retired or not. */
export function signerIds(f: FederationConfig): string[] {
  return f.signers.map((k) => k.id);
}

/** True when federation is on (`federation.name` set). */
export function federationEnabled(f: FederationConfig): f is FederationConfig & { name: string } {
  return f.name !== undefined;
}

/** The key file federation signs with: `federation.keyFile`, else `mesh.keyFile`. */
export function federationKeyFile(config: { federation: FederationConfig; mesh: { keyFile: string } }): string {
  return config.federation.keyFile ?? config.mesh.keyFile;
}

/** A partner's keys as the trust rule reads them (times in ms). */
export function trustedKeys(partner: Pick<PartnerConfig, 'keys'>): TrustedKey[] {
  return partner.keys.map((k) => ({
    id: k.id,
    ...(k.notBefore === undefined ? {} : { notBeforeMs: Date.parse(k.notBefore) }),
    ...(k.notAfter === undefined ? {} : { notAfterMs: Date.parse(k.notAfter) }),
  }));
}
