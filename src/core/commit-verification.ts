/**
 * Offline verification of a committed command message: anyone holding the JetStream message
 * (body and headers) and the peers' IDs can check that a quorum of the cohort endorsed exactly
 * this payload under this correlation ID. Pure; signatures go through an injected verifier.
 */
import { COMMAND_SCHEMA_VERSION, HEADER, type CommandBody } from './command-message.js';
import { resolveQuorum, verifyEndorsement, type QuorumSetting } from './consensus.js';
import { payloadDigest } from './digest.js';
import { payloadRefOf } from './payload-ref.js';
import type { SignatureVerifier } from './envelope-validation.js';
import { planShards, shardQuorum } from './shards.js';

/** Why a commit fails verification. Bounded: usable as a metric label or a table column. */
export type CommitProblemCode =
  /** The body is not UTF-8 JSON of a command body. */
  | 'malformed-body'
  /** `Nats-Msg-Id`, `Net-Sync-Correlation-Id` and the body's correlationId differ. */
  | 'id-mismatch'
  /** The body has no payloadDigest, or it is not the digest of the payload. */
  | 'digest-mismatch'
  /** An endorsement whose signature does not verify against its peer's key. */
  | 'bad-signature'
  /** The same peer endorses twice. */
  | 'duplicate-endorser'
  /** An endorser outside the given cohort. */
  | 'not-in-cohort'
  /** The `Net-Sync-Endorsers` header differs from the body's endorser set. */
  | 'endorsers-header-mismatch'
  /** Fewer valid, distinct, in-cohort endorsements than the quorum. */
  | 'below-quorum'
  /** Verifying against a fleet: the command names no shard, or one the member list does not form. */
  | 'unknown-shard'
  /** Verifying against a fleet: an endorser (or the origin) outside the shard the command names. */
  | 'not-in-shard'
  /** The `Net-Sync-Shard` header differs from the body's shard. */
  | 'shard-header-mismatch';

/** One problem found. `detail` names the peer or header; it never contains payload data. */
export interface CommitProblem {
  code: CommitProblemCode;
  detail: string;
}

/** The outcome of {@link verifyCommit}, as a value. */
export interface CommitVerification {
  ok: boolean;
  /** The body's correlationId, when the body could be read. */
  correlationId: string | undefined;
  /** Peers whose endorsement verified (distinct, in the cohort when one was given). */
  validEndorsers: string[];
  /** The quorum applied. */
  quorum: number;
  problems: CommitProblem[];
}

/** A committed message as read from JetStream (or any copy of it). */
export interface CommittedMessage {
  /** The message body: raw bytes, its text, or the parsed body. */
  body: Uint8Array | string | CommandBody;
  /** The message headers; when given, the ID and endorser headers are cross-checked. */
  headers?: Readonly<Record<string, string>>;
}

/** What {@link verifyCommit} checks against. */
export interface VerifyCommitOptions {
  /** Checks a signature by a peer's key, e.g. derived from an Ed25519 peer ID. */
  verify: SignatureVerifier;
  /** Endorsements needed. Default 1 (at least one valid endorsement). */
  quorum?: QuorumSetting;
  /** Allowed endorsers; empty or absent = any peer (open mode). `majority` needs it. */
  cohort?: readonly string[];
  /**
   * The fleet's members (`consensus.members` and the members file): when given, the command must
   * name its home shard (body `shard`, header `Net-Sync-Shard`), that shard is re-planned from
   * this list and `shardSize`, the origin and every endorser must be in it, and `quorum` applies
   * to it. Takes the place of `cohort`.
   */
  members?: readonly string[];
  /** `consensus.shardSize` of the fleet. Default 7. */
  shardSize?: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Verifies one committed message: the body is a command body; its IDs agree with the headers
 * (when given); `payloadDigest` is the digest of `payload`; every endorsement verifies against
 * its peer's key over (correlationId, payloadDigest); endorsers are distinct and, when a cohort
 * is given, in it; the valid ones reach the quorum. Never throws on bad input (it is reported);
 * throws CONFIG_INVALID only for an impossible quorum setting.
 */
export async function verifyCommit(message: CommittedMessage, opts: VerifyCommitOptions): Promise<CommitVerification> {
  const problems: CommitProblem[] = [];
  const body = readBody(message.body);
  const fleet = opts.members !== undefined && opts.members.length > 0;
  const scope = fleet ? shardScope(body, opts, problems) : cohortScope(opts);
  const { quorum, cohort } = scope;
  if (body === null) {
    return {
      ok: false,
      correlationId: undefined,
      validEndorsers: [],
      quorum,
      problems: [{ code: 'malformed-body', detail: 'not a command body' }],
    };
  }
  checkHeaders(body, message.headers, problems);
  const digest = checkDigest(body, problems);
  const valid: string[] = [];
  const seen = new Set<string>();
  for (const e of body.endorsements) {
    if (seen.has(e.peerId)) {
      problems.push({ code: 'duplicate-endorser', detail: e.peerId });
      continue;
    }
    seen.add(e.peerId);
    if (cohort.size > 0 && !cohort.has(e.peerId)) {
      problems.push({ code: fleet ? 'not-in-shard' : 'not-in-cohort', detail: e.peerId });
      continue;
    }
    if (digest === null) continue;
    if (await verifyEndorsement(e, body.correlationId, digest, opts.verify)) valid.push(e.peerId);
    else problems.push({ code: 'bad-signature', detail: e.peerId });
  }
  if (valid.length < quorum)
    problems.push({ code: 'below-quorum', detail: `${valid.length} valid of ${quorum} needed` });
  return { ok: problems.length === 0, correlationId: body.correlationId, validEndorsers: valid, quorum, problems };
}

interface Scope {
  quorum: number;
  /** Allowed endorsers; empty = any. */
  cohort: ReadonlySet<string>;
}

function cohortScope(opts: VerifyCommitOptions): Scope {
  const cohort = opts.cohort ?? [];
  return { quorum: resolveQuorum(opts.quorum ?? 1, cohort), cohort: new Set(cohort) };
}

// The shard the command names, re-planned from the member list; the origin must belong to it.
function shardScope(body: CommandBody | null, opts: VerifyCommitOptions, problems: CommitProblem[]): Scope {
  const plan = planShards(opts.members ?? [], opts.shardSize ?? 7);
  const setting = opts.quorum ?? 1;
  const smallest = Math.min(...plan.shards.map((s) => s.members.length));
  const fallback = { quorum: shardQuorum(setting, smallest), cohort: new Set(plan.members) };
  if (body === null) return fallback;
  const shard = typeof body.shard === 'string' ? plan.byName(body.shard) : undefined;
  if (shard === undefined) {
    problems.push({
      code: 'unknown-shard',
      detail:
        typeof body.shard === 'string' ? `${body.shard} is not a shard of the fleet` : 'the command names no shard',
    });
    return fallback;
  }
  if (!shard.members.includes(body.origin)) problems.push({ code: 'not-in-shard', detail: `origin ${body.origin}` });
  return { quorum: shardQuorum(setting, shard.members.length), cohort: new Set(shard.members) };
}

function readBody(raw: CommittedMessage['body']): CommandBody | null {
  let value: unknown = raw;
  try {
    if (raw instanceof Uint8Array) value = JSON.parse(decoder.decode(raw));
    else if (typeof raw === 'string') value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const b = value as Partial<CommandBody>;
  const endorsementsOk =
    Array.isArray(b.endorsements) &&
    b.endorsements.every(
      (e) => typeof e === 'object' && e !== null && typeof e.peerId === 'string' && typeof e.signature === 'string',
    );
  if (
    b.schemaVersion !== COMMAND_SCHEMA_VERSION ||
    typeof b.correlationId !== 'string' ||
    !endorsementsOk ||
    // Exactly one: with both, a reader could take the inline payload the signed reference does not cover.
    'payload' in b === 'payloadRef' in b
  )
    return null;
  return b as CommandBody;
}

function checkHeaders(body: CommandBody, headers: CommittedMessage['headers'], problems: CommitProblem[]): void {
  if (headers === undefined) return;
  for (const name of [HEADER.msgId, HEADER.correlationId]) {
    if (headers[name] !== body.correlationId)
      problems.push({ code: 'id-mismatch', detail: `${name} differs from the body's correlationId` });
  }
  const listed = headers[HEADER.endorsers];
  const inBody = [...new Set(body.endorsements.map((e) => e.peerId))].sort().join(',');
  const inHeader = listed === undefined ? '' : [...new Set(listed.split(',').filter((s) => s !== ''))].sort().join(',');
  const shard = headers[HEADER.shard];
  if (shard !== body.shard)
    problems.push({ code: 'shard-header-mismatch', detail: `${HEADER.shard} differs from the body's shard` });
  // Consensus off: the origin, its own quorum, is named without a signature (no endorsement round).
  const soleUnsigned = inBody === '' && inHeader === body.origin;
  if (inHeader !== inBody && !soleUnsigned)
    problems.push({
      code: 'endorsers-header-mismatch',
      detail: `${HEADER.endorsers} differs from the body's endorsers`,
    });
}

function checkDigest(body: CommandBody, problems: CommitProblem[]): string | null {
  let actual: string | null = null;
  try {
    // A payload stored by reference: the reference's digest is what was signed; the object's bytes
    // are checked against it when they are fetched (resolvePayloadRef, docs/payloads.md).
    actual = body.payloadRef === undefined ? payloadDigest(body.payload) : (payloadRefOf(body)?.digest ?? null);
  } catch {
    actual = null;
  }
  if (body.payloadDigest === undefined || actual === null || body.payloadDigest !== actual) {
    problems.push({
      code: 'digest-mismatch',
      detail: body.payloadDigest === undefined ? 'no payloadDigest' : 'payloadDigest is not the digest of payload',
    });
    return null;
  }
  return actual;
}
