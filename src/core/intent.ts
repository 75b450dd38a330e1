/**
 * Intent and outbox row shapes shared by every part. Plain data, no behaviour.
 */

/** Every state an intent can be in, as the HTTP API reports it. */
export const INTENT_STATES = [
  'proposed',
  'pending-commit',
  'in-flight',
  'committed',
  'expired',
  'rejected',
  'dead',
] as const;
export type IntentState = (typeof INTENT_STATES)[number];

/**
 * States whose rows may be pruned once old: the outcome is final and nothing acts on them
 * again. `dead` is not among them: a row JetStream refused waits for an operator, and
 * `reconcile` keeps reporting it.
 */
export const PRUNABLE_STATES = ['committed', 'expired', 'rejected'] as const satisfies readonly IntentState[];

/** Longest TTL an intent can have (the gossip envelope's bound): a proposal older than this is refused. */
export const MAX_INTENT_TTL_MS = 86_400_000;

/** What an outbox row carries: a command intent or a telemetry summary. */
export type RowKind = 'command' | 'telemetry';

/** A row to add to the outbox. Everything needed to publish it, byte for byte, forever. */
export interface NewOutboxRow {
  /** ULID; also the JetStream `Nats-Msg-Id`. */
  correlationId: string;
  /** Full NATS subject, e.g. `root.solar.command.sentiment.set`. */
  subject: string;
  /** The exact message body to publish (UTF-8 JSON). Republishing sends the same bytes. */
  body: Uint8Array;
  /** Headers to publish besides `Nats-Msg-Id`. */
  headers: Record<string, string>;
  kind: RowKind;
  /** Initial state: `pending-commit` (consensus off, or quorum reached) or `proposed`. */
  state: 'pending-commit' | 'proposed';
  /** Wall-clock creation time, ms since epoch. */
  createdAtMs: number;
}

/** A row as stored. */
export interface OutboxRow extends Omit<NewOutboxRow, 'state'> {
  /** Local insertion order (SQLite rowid). Publishing follows it. */
  seq: number;
  state: IntentState;
  /** Publish attempts so far. */
  attempts: number;
  /** Time of the first publish attempt; the duplicate window is measured from it. */
  firstAttemptAtMs: number | null;
  lastAttemptAtMs: number | null;
  lastError: string | null;
  updatedAtMs: number;
  /** Stream and sequence once committed. */
  stream: string | null;
  streamSeq: number | null;
  committedAtMs: number | null;
  /** Why the row is `dead`, `rejected` or `expired`. */
  reason: string | null;
}

/** Where a message sits in JetStream. */
export interface StreamLocation {
  stream: string;
  seq: number;
}
