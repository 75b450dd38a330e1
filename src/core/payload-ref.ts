/**
 * Payloads by reference (docs/payloads.md): a payload above `payloads.inlineMaxBytes` is stored in
 * a JetStream Object Store under the correlation ID, and the command carries
 * `{payloadRef: {bucket, name, size, digest}}` in its place. The object's bytes are the canonical
 * JSON of the payload, so its SHA-256 is the payload digest the endorsers sign. Pure: shapes, the
 * codec and the ports the adapters implement.
 */
import { z } from 'zod';
import { canonicalJson, sha256Hex } from './digest.js';
import { digest as hexDigest } from './envelope-fields.js';

/** Where a command's payload is: an object in a JetStream Object Store bucket. */
export interface PayloadRef {
  /** Object Store bucket (`payloads.bucket`, default `NET_SYNC_PAYLOADS`). */
  bucket: string;
  /** Object name: the command's correlation ID. */
  name: string;
  /** Object size, bytes: the length of the payload's canonical JSON (UTF-8). */
  size: number;
  /** Lower-case hex SHA-256 of the object's bytes: the command's `payloadDigest`. */
  digest: string;
}

/** The reference as it appears in a command body (schema `payload-ref.v1.json`). */
export const PayloadRefSchema = z
  .looseObject({
    bucket: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'must be an Object Store bucket name'),
    name: z.string().min(1).max(256),
    size: z.number().int().nonnegative(),
    digest: hexDigest,
  })
  .meta({
    title: 'net-sync payload reference',
    description: 'A command payload stored in a JetStream Object Store; resolve it with resolvePayloadRef',
  });

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A payload as the object it is stored as: its canonical JSON bytes and their hex SHA-256. */
export interface EncodedPayload {
  bytes: Uint8Array;
  digest: string;
}

/**
 * Encodes a JSON payload as its object: canonical JSON, UTF-8, and the digest of those bytes.
 * `sha256` may be a faster implementation of the same hash (the sidecar passes node:crypto's).
 */
export function encodePayload(payload: unknown, sha256: (bytes: Uint8Array) => string = sha256Hex): EncodedPayload {
  const bytes = encoder.encode(canonicalJson(payload));
  return { bytes, digest: sha256(bytes) };
}

/**
 * Decodes an object's bytes back to the payload after checking them against `ref`; throws a
 * `PayloadRefError` naming what differs (size, digest, JSON), never returning bytes that do not match.
 */
export function decodePayload(bytes: Uint8Array, ref: PayloadRef): unknown {
  if (bytes.length !== ref.size)
    throw new PayloadRefError(
      'size',
      `object ${ref.bucket}/${ref.name} is ${bytes.length} bytes, the reference says ${ref.size}`,
    );
  const actual = sha256Hex(bytes);
  if (actual !== ref.digest)
    throw new PayloadRefError(
      'digest',
      `object ${ref.bucket}/${ref.name} has digest ${actual}, the reference says ${ref.digest}`,
    );
  try {
    return JSON.parse(decoder.decode(bytes)) as unknown;
  } catch (err) {
    throw new PayloadRefError('json', `object ${ref.bucket}/${ref.name} is not UTF-8 JSON`, err);
  }
}

/** Why a reference could not be resolved. */
export type PayloadRefProblem = 'missing' | 'size' | 'digest' | 'json';

/** A reference that could not be resolved to its payload; `problem` says why. */
export class PayloadRefError extends Error {
  override readonly name = 'PayloadRefError';
  constructor(
    readonly problem: PayloadRefProblem,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/**
 * The Object Store's own digest string for a hex SHA-256 (`SHA-256=` + padded base64url), as
 * nats.js writes it in an object's info: comparing the two checks an object without reading it.
 */
export function objectStoreDigest(hex: string): string {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `SHA-256=${btoa(binary).replaceAll('+', '-').replaceAll('/', '_')}`;
}

/** The reference of a command body, or undefined when it carries its payload inline (or is no command body). */
export function payloadRefOf(body: Uint8Array | unknown): PayloadRef | undefined {
  let parsed: unknown = body;
  if (body instanceof Uint8Array) {
    try {
      parsed = JSON.parse(decoder.decode(body)) as unknown;
    } catch {
      return undefined;
    }
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const ref = PayloadRefSchema.safeParse((parsed as { payloadRef?: unknown }).payloadRef);
  return ref.success ? ref.data : undefined;
}

/** What the Object Store holds under a name, as far as exactly once needs it. */
export interface StoredObjectInfo {
  size: number;
  /** The store's digest string (`SHA-256=…`), compare with {@link objectStoreDigest}. */
  digest: string;
}

/** The Object Store as the payload use case sees it. Implemented by `JetStreamObjectStore`. */
export interface PayloadObjects {
  /** The object's info, or null when there is none (or it was deleted). Rejects when NATS cannot answer. */
  info(ref: PayloadRef, signal?: AbortSignal): Promise<StoredObjectInfo | null>;
  /**
   * Stores `bytes` under the reference's name only if no object has that name yet (create-only:
   * an object that appeared meanwhile is left alone, and its info returned). Rejects on failure.
   * `bytes` must hash to `ref.digest`: the caller checks, and the object's info carries that digest.
   */
  putIfAbsent(ref: PayloadRef, bytes: Uint8Array, signal?: AbortSignal): Promise<StoredObjectInfo>;
  /** The object's bytes, or null when there is none. */
  get(ref: PayloadRef, signal?: AbortSignal): Promise<Uint8Array | null>;
}

/** Large payloads kept in the outbox file until their object is stored. Implemented by `SqlitePayloadStore`. */
export interface PayloadStore {
  /** Durably stores a payload's bytes (on disk when it resolves). A second put of one ID is ignored. */
  put(correlationId: string, bytes: Uint8Array, digest: string, atMs: number): Promise<void>;
  /** The stored bytes, or undefined. */
  get(correlationId: string): Uint8Array | undefined;
  /** Up to `limit` stored payloads whose object is not known to be in the bucket yet, oldest first. */
  notUploaded(limit: number): Array<{ correlationId: string; digest: string; size: number }>;
  /** Records that a payload's object is in the bucket (a lost mark only costs one more info request). */
  markUploaded(correlationId: string, atMs: number): void;
  /** Deletes payloads whose outbox row is gone (pruned), stored before `beforeMs`; returns how many. */
  pruneOrphans(beforeMs: number, limit: number): number;
}
