/**
 * Field schemas shared by the envelope kinds (`envelope.ts`, `telemetry-envelope.ts`): the
 * version, identifiers, subjects, times and signatures, each with the message a refusal shows.
 */
import { z } from 'zod';

/** The envelope version this code writes and reads. */
export const ENVELOPE_SCHEMA_VERSION = 1;

/** A ULID (correlation IDs). */
export const ulid = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'must be a ULID');
/** A libp2p peer ID as a string: base58btc multihash (12D3Koo…, Qm…) or a base32 CID (b…). */
export const peerId = z.string().regex(/^[A-Za-z0-9]{32,128}$/, 'must be a libp2p peer ID');
/** Lower-case hex SHA-256 (payload digests). */
export const digest = z.string().regex(/^[0-9a-f]{64}$/, 'must be lower-case hex SHA-256');
/** A concrete NATS subject (no wildcards), at most 256 characters. */
export const subject = z
  .string()
  .max(256)
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/, 'must be a concrete NATS subject');
/** A time: integer ms since epoch, 0 to 2^53-1. */
export const msSinceEpoch = z.number().int().nonnegative();
/** A W3C `traceparent` header value. */
export const traceparent = z
  .string()
  .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'must be a W3C traceparent');
/** A signature, base64url without padding. */
// Ed25519 signatures are 64 bytes (86 base64url characters); the bound leaves room for other key types.
export const signature = z.string().regex(/^[A-Za-z0-9_-]{16,1024}$/, 'must be base64url without padding');
/** A JetStream stream name. */
export const streamName = z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a JetStream stream name');
