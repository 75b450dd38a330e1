/**
 * The small interfaces the use cases see. Adapters (SQLite, NATS, libp2p, HTTP) implement
 * them; memory fakes implement them in unit tests.
 */
import type { Envelope } from './envelope.js';
import type { IntentState, NewOutboxRow, OutboxRow, PRUNABLE_STATES, RowKind, StreamLocation } from './intent.js';

/** Time, injected so that logic can be tested with a manual clock. */
export interface Clock {
  /** Wall-clock ms since epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with an ABORTED NetSyncError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Counts of rows by state. Every state is present (0 when none). */
export type StateCounts = Record<IntentState, number>;

/** A row found in the stream: its ID, where it is stored and, when the caller has it, its `seq` (`rowSeq`). */
export type CommitEntry = { correlationId: string; rowSeq?: number } & StreamLocation;

/** What {@link Outbox.claim} does in its one transaction. */
export interface ClaimRequest {
  /** Rows to move from `pending-commit` to `in-flight`, in publish order. May be empty. */
  ids: readonly string[];
  /** The rows' `seq`s, parallel to `ids`, when the caller has them: spares the outbox a lookup per ID. */
  seqs?: readonly number[];
  /** Wall-clock ms: the attempt time, the commit time and the lease's `now`. */
  atMs: number;
  /** PubAcks received since the last claim, recorded first. May be empty. */
  committed: ReadonlyArray<CommitEntry>;
  /** The lease to renew (for `ttlMs` from `atMs`); nothing is claimed unless it is held. */
  lease?: { owner: string; ttlMs: number };
}

/**
 * A committer's standing claim on appends (see {@link Outbox.claimAppends}): the append
 * transaction claims the new rows itself, so that rows the committer will send at once cost
 * no claim transaction (and no fsync) of their own.
 */
export interface AppendClaim {
  /** The publisher lease's owner: rows are only claimed while the transaction renews its lease. */
  owner: string;
  /** Lease lifetime, renewed from `now()` by every append transaction that claims. */
  ttlMs: number;
  /** Wall-clock ms: the lease's `now` and the claimed rows' attempt time. */
  now(): number;
  /**
   * How many of this append's publishable rows to claim (0: none, and the lease is left alone).
   * Called once per append transaction that stores a `pending-commit` row, inside the transaction.
   */
  room(): number;
}

/** The durable buffer of intents. Implemented by `SqliteOutbox`, faked by `MemoryOutbox`. */
/** One row of {@link Outbox.promoteMany}. */
export interface PromoteItem {
  correlationId: string;
  body: Uint8Array;
  headers: Record<string, string>;
  target: 'pending-commit' | 'in-flight';
}

export interface Outbox {
  /**
   * Durably adds rows. Resolves only once they are on disk (fsync'd as configured);
   * concurrent calls are grouped into one transaction. Rejects with OUTBOX_IO on failure,
   * in which case none of this call's rows were stored. A duplicate correlationId is ignored.
   */
  append(rows: NewOutboxRow[]): Promise<void>;
  /** One row by correlation ID. */
  get(correlationId: string): OutboxRow | undefined;
  /**
   * Up to `limit` publishable rows (`pending-commit`, or `in-flight` when `includeInFlight`)
   * in insertion order, with `seq` greater than `afterSeq`.
   */
  listPublishable(limit: number, afterSeq?: number, includeInFlight?: boolean): OutboxRow[];
  /** Rows in any of `states`, in insertion order, with `seq` greater than `afterSeq`. */
  listByState(states: readonly IntentState[], limit: number, afterSeq?: number): OutboxRow[];
  /** Marks rows as sent with unknown outcome, counts an attempt. One transaction. */
  markInFlight(correlationIds: readonly string[], atMs: number): void;
  /**
   * The committer's claim, in ONE durable transaction: records `req.committed` (as
   * {@link Outbox.markCommitted}); renews the publisher lease when `req.lease` is given (as
   * {@link Outbox.tryLease}); then, only while the lease is held, moves the rows of `req.ids`
   * that are still `pending-commit` to `in-flight`, counting an attempt. Returns the IDs it
   * moved, in the given order: all of them unless another party changed a row meanwhile (only
   * those may be sent). Returns null when another owner holds the lease: nothing is claimed,
   * the committed marks still stand.
   */
  claim(req: ClaimRequest): readonly string[] | null;
  /**
   * Subscribes to durable appends: `listener` runs synchronously right after each append
   * transaction commits, with the rows it stored (duplicates left out) in `seq` order, so
   * the committer can publish them without reading them back. The rows are shared: never
   * mutate them. A throwing listener is logged, never propagated. Returns an unsubscribe function.
   */
  onAppended(listener: (rows: readonly OutboxRow[]) => void): () => void;
  /**
   * Sets (or with null, clears) the committer's claim on appends. While set, an append
   * transaction that stores `pending-commit` rows asks `claim.room()`; when it is above 0 and the
   * transaction renews `claim.owner`'s lease, the first `room` of those rows are stored
   * `in-flight` instead (one attempt, at `claim.now()`), exactly as a {@link Outbox.claim} would
   * have left them, and `onAppended` hands them out in that state. The caller must send them
   * (or leave them to a stream lookup) as it would claimed rows. Nothing is claimed while no
   * `onAppended` listener would receive the rows. One claim at a time.
   */
  claimAppends(claim: AppendClaim | null): void;
  /**
   * Records committed rows with their stream location. One transaction. Idempotent. With
   * `opts.durable === false` the transaction is not fsync'd: a power loss (never a process
   * crash) may undo it, so only use it for rows whose `in-flight` mark is durable: they fall
   * back to it and are looked up in the stream before any resend.
   */
  markCommitted(entries: ReadonlyArray<CommitEntry>, atMs: number, opts?: { durable?: boolean }): void;
  /** Returns rows to `pending-commit` after a retryable failure, keeping the error text. */
  markRetry(correlationIds: readonly string[], error: string, atMs: number): void;
  /**
   * Promotes a `proposed` row once its quorum is held: replaces its body and headers with the
   * final ones (carrying the endorsement set) and moves it to `target`: `pending-commit` (the
   * committer publishes it), or `in-flight` when another node may already have published it
   * (a takeover), so the committer looks it up in the stream (from its creation time) before
   * any publish. Guarded: only a row still in `proposed` moves. Returns true when it moved.
   */
  promote(
    correlationId: string,
    body: Uint8Array,
    headers: Record<string, string>,
    atMs: number,
    target?: 'pending-commit' | 'in-flight',
  ): boolean;
  /**
   * {@link Outbox.promote} for many rows in ONE transaction (one fsync for a gossip batch instead
   * of one per row). Returns the IDs that moved. With `opts.durable === false` it is not fsync'd:
   * only for rows whose durable `proposed` state is a safe place to fall back to.
   */
  promoteMany(items: readonly PromoteItem[], atMs: number, opts?: { durable?: boolean }): string[];
  /**
   * Moves rows to a terminal state (`dead`, `expired`, `rejected`) with a reason, in one
   * transaction; a committed row never moves. Returns the IDs that moved. `notices` maps a row's
   * ID to its dead-letter row, stored in the same transaction when that row moves, as `append`
   * stores rows (a duplicate correlation ID is ignored) but without `onAppended`: the caller
   * makes the committer look.
   */
  markTerminal(
    correlationIds: readonly string[],
    state: 'dead' | 'expired' | 'rejected',
    reason: string,
    atMs: number,
    notices?: ReadonlyMap<string, NewOutboxRow>,
  ): string[];
  /**
   * Deletes up to `limit` rows in a {@link PRUNABLE_STATES} state last changed before
   * `beforeMs`, oldest seq first. Per state it stops at the first row not old enough, so one
   * call costs one index range per state; later rows wait until that one ages out. Returns
   * how many rows were deleted. Not durable on its own: a lost delete is simply redone.
   */
  pruneSettled(beforeMs: number, limit: number): number;
  /** Row counts by state, optionally for one kind. */
  counts(kind?: RowKind): StateCounts;
  /** Creation time of the oldest row not yet committed nor terminal (of `kind` when given), or null. */
  oldestPendingCreatedAtMs(kind?: RowKind): number | null;
  /**
   * Takes or renews the publisher lease for `owner` until `nowMs + ttlMs`. Only the holder
   * publishes, so a `net-sync reconcile` on the same file as a running sidecar never
   * double-publishes. Returns false when another owner holds an unexpired lease.
   */
  tryLease(owner: string, ttlMs: number, nowMs: number): boolean;
  /** Gives the lease up if `owner` holds it. */
  releaseLease(owner: string): void;
  /** The current lease holder and expiry, if any. */
  leaseHolder(nowMs: number): { owner: string; expiresAtMs: number } | null;
}

/** One message for JetStream. */
export interface OutboundMessage {
  subject: string;
  body: Uint8Array;
  /** `Nats-Msg-Id`: the correlation ID. */
  msgId: string;
  /** Extra headers (the Net-Sync-* set and traceparent). */
  headers: Record<string, string>;
}

/** The outcome of one publish, as a value (never thrown). */
export type PublishResult =
  | { kind: 'acked'; stream: string; seq: number; duplicate: boolean }
  | {
      kind: 'failed';
      /** Retryable: disconnected, no responders, timeout. Permanent: the row goes dead. */
      retryable: boolean;
      /** True when the message may have reached the stream (a timeout after sending). */
      outcomeUnknown: boolean;
      code: string;
      reason: string;
    };

/** Listener for connection state changes. */
export type ConnectionListener = (state: ConnectionState) => void;
/** NATS connection state as the use cases see it. */
export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** Receives the outcome of one {@link CommandPublisher.send}, with the caller's own context. */
export type PublishDone<C> = (ctx: C, result: PublishResult) => void;

/** Publishes to JetStream and waits for the PubAck. Implemented by `JetStreamPublisher`. */
export interface CommandPublisher {
  /** Publishes one message; resolves with the PubAck or a classified failure. */
  publish(msg: OutboundMessage, signal?: AbortSignal): Promise<PublishResult>;
  /**
   * The same publish without a promise: calls `done(ctx, result)` exactly once, possibly before
   * returning (a refusal before sending). The commit path's hot path: one shared callback and
   * the caller's own context per message, nothing else. Optional; {@link sendMessage} falls back
   * to `publish`.
   */
  send?<C>(msg: OutboundMessage, ctx: C, done: PublishDone<C>, signal?: AbortSignal): void;
  /** Current connection state. */
  readonly state: ConnectionState;
  /** Subscribes to state changes; returns an unsubscribe function. */
  onState(listener: ConnectionListener): () => void;
}

/** Reads a stream back. Implemented by `JetStreamReader`. */
export interface StreamReader {
  /**
   * Scans the messages on `subject` stored at or after `sinceMs` (wall clock) up to the
   * stream's last sequence at call time, and returns where each of `msgIds` was found.
   * IDs not in the result were not found in that range.
   */
  findMsgIds(
    subject: string,
    sinceMs: number,
    msgIds: ReadonlySet<string>,
    signal?: AbortSignal,
  ): Promise<Map<string, StreamLocation>>;
}

/** Verdict on an inbound gossip message: deliver and forward, drop quietly, or drop and penalise the sender. */
export type GossipVerdict = 'accept' | 'ignore' | 'reject';

/** Receives validated envelopes with the author's peer ID (the signed gossip `from`). */
export type EnvelopeListener = (envelope: Envelope, fromPeerId: string) => void;

/**
 * The gossip mesh as the use cases see it: publish and receive validated envelopes on the one
 * net-sync topic, sign with this node's key, verify other peers' signatures. Implemented by
 * `MeshNode`. Delivery is best effort: no store and forward, no backpressure (rate-limit and
 * batch in the caller).
 */
export interface Gossip {
  /** This node's libp2p peer ID (base58btc string). */
  readonly peerId: string;
  /**
   * Publishes one envelope to the topic. Rejects with MESH_PUBLISH (cause kept) when it is
   * oversized, when no peer is subscribed, or when the node is not started; INPUT_INVALID when
   * the envelope does not conform or names another author than this node; ABORTED when `signal`
   * is already aborted (a started publish is not cancellable: it is one local enqueue).
   */
  publish(envelope: Envelope, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `listener` for every envelope from another peer that passed validation (own
   * publications are not echoed). Returns an unsubscribe function. A throwing listener is
   * logged and counted, never propagated into the mesh.
   */
  onEnvelope(listener: EnvelopeListener): () => void;
  /** Signs `bytes` with this node's private key (Ed25519: 64-byte signature). */
  sign(bytes: Uint8Array): Promise<Uint8Array>;
  /** True when `signature` over `bytes` verifies against `peerId`'s public key; false for any malformed input. */
  verify(peerId: string, bytes: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** Peer IDs currently connected. */
  peers(): string[];
}

/** The endorsing group of an intent as one node sees it now: its shard, or the cohort. */
export interface EndorsingShard {
  /**
   * The shard's name (`shard-<i>-of-<n>`), carried by the commands it commits; null for a cohort (no shard is named).
   */
  readonly name: string | null;
  /** Who may endorse; empty = any peer (open membership). */
  readonly members: ReadonlySet<string>;
  /** Endorsements an intent of this shard needs (resolved). */
  readonly quorum: number;
}

/**
 * Who may propose and who endorses whom (docs/fleet.md): the fleet's plan of home shards, or a
 * cohort (one shard). Answers may change between calls (a member list reloaded on SIGHUP); a
 * caller asks again rather than keeping an answer.
 */
export interface Membership {
  /** The shard that endorses and commits `origin`'s intents; undefined when `origin` may not propose. */
  shardOf(origin: string): EndorsingShard | undefined;
}
