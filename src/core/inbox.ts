/**
 * The inbox's pure rules: what the agent's answer means (Dapr's convention), how long a retry
 * waits, what the agent is sent, and the dead-letter notice of a command it will never apply.
 * See docs/inbox.md.
 */
import { HEADER } from './command-message.js';
import type { NewOutboxRow } from './intent.js';
import { type PayloadRef, payloadRefOf } from './payload-ref.js';
import { DEAD_LETTER_ID_PREFIX, DEAD_LETTER_SCHEMA_VERSION, deadLetterSubject } from './dead-letter.js';
import { SCHEMA_FILE } from './schema-names.js';

/** What happens to a delivery after the agent answered. */
export type InboxVerdict = 'ack' | 'retry' | 'drop';

/** Every result the inbox counts (`net_sync_inbox_deliveries_total{result}`). */
export type InboxResult = InboxVerdict | 'dedup' | 'unverified' | 'expired';

/** The agent's answer to a push, as the HTTP client saw it. */
export type AgentAnswer =
  | { kind: 'response'; status: number; body: unknown }
  /** Refused connection, reset, DNS failure: the agent is not there. */
  | { kind: 'unreachable'; reason: string }
  /** No answer within the processing limit. */
  | { kind: 'timeout' };

/**
 * Dapr's pub/sub convention: 2xx with no body or `{"status":"SUCCESS"}` acks; `RETRY`, 5xx,
 * 408, 429, an unreachable agent and a timeout retry; `DROP` and every other 4xx drop.
 */
export function classifyAgentAnswer(answer: AgentAnswer): { verdict: InboxVerdict; reason: string } {
  if (answer.kind === 'unreachable') return { verdict: 'retry', reason: `agent unreachable: ${answer.reason}` };
  if (answer.kind === 'timeout') return { verdict: 'retry', reason: 'agent did not answer in time' };
  const { status, body } = answer;
  const said =
    typeof body === 'object' && body !== null && typeof (body as { status?: unknown }).status === 'string'
      ? String((body as { status: string }).status).toUpperCase()
      : undefined;
  if (status >= 200 && status < 300) {
    if (said === 'RETRY') return { verdict: 'retry', reason: 'agent answered RETRY' };
    if (said === 'DROP') return { verdict: 'drop', reason: 'agent answered DROP' };
    return { verdict: 'ack', reason: 'agent answered SUCCESS' };
  }
  if (status >= 500 || status === 408 || status === 429)
    return { verdict: 'retry', reason: `agent answered ${status}` };
  return { verdict: 'drop', reason: `agent answered ${status}` };
}

/**
 * Delay before a retried delivery: `backoffMs[deliveryCount - 1]`, the last entry once past the
 * list (JetStream's own `backoff` reads the same way).
 */
export function retryDelayMs(deliveryCount: number, backoffMs: readonly number[]): number {
  if (backoffMs.length === 0) return 0;
  return backoffMs[Math.min(Math.max(deliveryCount, 1), backoffMs.length) - 1]!;
}

/** One command as the agent receives it (push body, and an item of `GET /v1/inbox`). */
export interface InboxCommand {
  correlationId: string;
  subject: string;
  /** The payload; absent when the command carries `payloadRef` and `inbox.resolvePayloads` is false. */
  payload?: unknown;
  /** Where the payload is stored (docs/payloads.md), given as is with `inbox.resolvePayloads: false`. */
  payloadRef?: PayloadRef;
  streamSeq: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
  /** ISO-8601 time the stream stored the command. */
  publishedAt: string;
  /** Whether the endorsements were checked and held (`inbox.verify`). */
  verified: boolean;
  /** The peers whose endorsement is on the command, when it carries them. */
  endorsers?: string[];
}

/** A stored message read from the command stream, before the agent sees it. */
export interface InboxMessageView {
  stream: string;
  streamSeq: number;
  subject: string;
  data: Uint8Array;
  headers: Readonly<Record<string, string>>;
  deliveryCount: number;
  publishedAtMs: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder();

/**
 * The command the agent is given: a net-sync command body gives its payload and endorsers; any
 * other JSON body is the payload itself (commands published by other systems, `inbox.verify:
 * false`); a body that is not JSON is given as a string.
 */
export function inboxCommand(m: InboxMessageView, verified: boolean): InboxCommand {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(m.data));
  } catch {
    parsed = lenient.decode(m.data);
  }
  const body = parsed as { schemaVersion?: unknown; payload?: unknown; endorsements?: unknown } | null;
  const isCommandBody =
    typeof body === 'object' && body !== null && ('payload' in body || 'payloadRef' in body) && 'schemaVersion' in body;
  const payloadRef = isCommandBody ? payloadRefOf(body) : undefined;
  const endorsements = isCommandBody && Array.isArray(body.endorsements) ? body.endorsements : undefined;
  return {
    correlationId: inboxKey(m),
    subject: m.subject,
    ...(payloadRef === undefined ? { payload: isCommandBody ? body.payload : parsed } : { payloadRef }),
    streamSeq: m.streamSeq,
    deliveryCount: m.deliveryCount,
    publishedAt: new Date(m.publishedAtMs).toISOString(),
    verified,
    ...(endorsements === undefined
      ? {}
      : { endorsers: endorsements.map((e) => String((e as { peerId?: unknown }).peerId)) }),
  };
}

/**
 * The key an applied command is remembered by: its correlation ID (so a second copy of the same
 * command, stored twice, is absorbed too), else its `Nats-Msg-Id`, else its place in the stream.
 */
export function inboxKey(m: Pick<InboxMessageView, 'headers' | 'stream' | 'streamSeq'>): string {
  return m.headers[HEADER.correlationId] ?? m.headers[HEADER.msgId] ?? `${m.stream}:${m.streamSeq}`;
}

/** The JSON body of a delivery dead-letter notice: the outbox's notice, with the delivery's facts. */
export interface DeliveryDeadLetterBody {
  schemaVersion: number;
  stage: 'delivery';
  correlationId: string;
  subject: string;
  kind: 'command';
  reason: string;
  consumer: string;
  stream: string;
  streamSeq: number;
  deliveryCount: number;
  createdAt: string;
  deadAt: string;
}

const encoder = new TextEncoder();

/**
 * The ID (outbox row and `Nats-Msg-Id`) of the delivery notice of the message stored at
 * `streamSeq` of `stream`: one per stored message, whichever delivery or sidecar writes it.
 */
export function deliveryDeadLetterId(stream: string, streamSeq: number): string {
  return `${DEAD_LETTER_ID_PREFIX}delivery-${stream}-${streamSeq}`;
}

/**
 * The `max_deliver` the inbox gives its consumers on the server: one above `inbox.maxDeliver`. The
 * sidecar itself dead-letters a command on its delivery number `maxDeliver`; the one delivery more
 * is the backstop for a sidecar that died holding that delivery, so the command comes back to a
 * sidecar (in band, durable) instead of ending in an advisory nobody may hear. docs/inbox.md.
 */
export function serverMaxDeliver(maxDeliver: number): number {
  return maxDeliver + 1;
}

/**
 * The notice row for a command the agent will never apply, published through the outbox on
 * `<prefix>.deadletter.command`. Its ID names the stored message, so a second notice of the same
 * message (two sidecars, a restart) is the same row and the same `Nats-Msg-Id`.
 */
export function buildDeliveryDeadLetterRow(
  m: InboxMessageView,
  consumer: string,
  reason: string,
  atMs: number,
  prefix: string,
): NewOutboxRow {
  const correlationId = inboxKey(m);
  const notice: DeliveryDeadLetterBody = {
    schemaVersion: DEAD_LETTER_SCHEMA_VERSION,
    stage: 'delivery',
    correlationId,
    subject: m.subject,
    kind: 'command',
    reason,
    consumer,
    stream: m.stream,
    streamSeq: m.streamSeq,
    deliveryCount: m.deliveryCount,
    createdAt: new Date(m.publishedAtMs).toISOString(),
    deadAt: new Date(atMs).toISOString(),
  };
  const headers: Record<string, string> = {
    [HEADER.correlationId]: correlationId,
    [HEADER.schemaVersion]: String(DEAD_LETTER_SCHEMA_VERSION),
    [HEADER.kind]: 'dead-letter',
    [HEADER.schema]: SCHEMA_FILE.deliveryDeadLetter,
  };
  const traceparent = m.headers[HEADER.traceparent];
  if (traceparent !== undefined) headers[HEADER.traceparent] = traceparent;
  return {
    correlationId: deliveryDeadLetterId(m.stream, m.streamSeq),
    subject: deadLetterSubject(prefix, 'command'),
    body: encoder.encode(JSON.stringify(notice)),
    headers,
    kind: 'command',
    state: 'pending-commit',
    createdAtMs: atMs,
  };
}

/** A command the agent applied, as the inbox remembers it. */
export interface AppliedCommand {
  key: string;
  stream: string;
  streamSeq: number;
  subject: string;
  consumer: string;
  appliedAtMs: number;
  /** Where the ack goes (the delivery's reply subject), kept to resend it after a reconnect. */
  ackSubject?: string;
}

/** The inbox's memory of applied commands (edge dedupe), durable in the outbox file. */
export interface AppliedCommands {
  /** True when the agent already applied the command known by `key`. */
  has(key: string): boolean;
  /**
   * Durably records an applied command: on disk when it returns or its promise resolves (records
   * of concurrent deliveries may share one transaction). A known key is left as it is.
   */
  record(entry: AppliedCommand): Promise<void> | void;
  /** NATS confirmed the ack. */
  markAcked(key: string, atMs: number): void;
  /** Applied commands whose ack NATS has not confirmed, oldest first. */
  unacked(limit: number): AppliedCommand[];
  /** Deletes records applied before `beforeMs`, at most `limit`; returns how many. */
  prune(beforeMs: number, limit: number): number;
}

/** One delivery of a stored command to this sidecar, with JetStream's acknowledgements. */
export interface InboxDelivery extends InboxMessageView {
  /** The durable consumer it came from. */
  consumer: string;
  /** The reply subject an ack goes to. */
  ackSubject: string;
  /** Acks; false when it could not be sent (NATS away): then it is kept and resent on reconnect. */
  ack(): Promise<boolean>;
  /** Asks for a redelivery after `delayMs`. */
  nak(delayMs: number): void;
  /** Stops redelivery for good. */
  term(reason: string): void;
  /** Restarts the ack wait: the agent is still working on it. */
  working(): void;
}

/** How far behind one of the inbox's consumers is (from consumer info). */
export interface InboxConsumerLag {
  consumer: string;
  stream: string;
  /** Stored, not yet delivered. */
  pending: number;
  /** Delivered, not yet acknowledged. */
  ackPending: number;
}

/**
 * A stored command JetStream will deliver no more: it reached its consumer's max deliveries
 * without an ack or a term (nats-server's max-deliveries advisory). With the backstop delivery
 * ({@link serverMaxDeliver}) this is the fallback for a backstop delivery that never reached a
 * live sidecar.
 */
export interface InboxExhausted {
  stream: string;
  consumer: string;
  streamSeq: number;
  /** Deliveries made (the consumer's max deliveries). */
  deliveries: number;
}

/** A command as the stream stores it, read by its place (no delivery attached). */
export type StoredInboxMessage = Omit<InboxMessageView, 'deliveryCount'>;

/** Where deliveries come from: the inbox's durable consumers. */
export interface InboxSource {
  /** Creates or updates the durable consumers; resolves once they exist. */
  ensure(signal: AbortSignal): Promise<void>;
  /**
   * Push mode: hands each delivery to `handler`, at most `concurrency` unanswered per consumer,
   * across reconnects, until `signal` aborts.
   */
  run(handler: (d: InboxDelivery) => Promise<void>, concurrency: number, signal: AbortSignal): Promise<void>;
  /** Pull mode: up to `max` deliveries, waiting at most `waitMs` for the first. */
  fetch(max: number, waitMs: number, signal: AbortSignal): Promise<InboxDelivery[]>;
  /** Sends an ack to a stored reply subject (an ack made while NATS was away); true when confirmed. */
  ackBySubject(ackSubject: string): Promise<boolean>;
  /** Lag per consumer; empty while NATS is away. */
  lag(): Promise<InboxConsumerLag[]>;
  /**
   * Calls `handler` for every command one of the consumers stopped delivering (max deliveries
   * reached), until `signal` aborts. Listening starts on each connection before this source's
   * first pull on it, since nats-server reports the exhaustion when it next tries to deliver.
   * At most once per exhaustion; one reported while this source is not connected is missed.
   */
  onExhausted(handler: (e: InboxExhausted) => void, signal: AbortSignal): void;
  /** The command stored at `streamSeq` of `stream`; undefined when the stream no longer holds it. */
  stored(stream: string, streamSeq: number): Promise<StoredInboxMessage | undefined>;
}

/** Hands a command to the agent over HTTP (push mode). */
export interface AgentPusher {
  /** POSTs `command`; never throws (an unreachable agent or a timeout is an answer). */
  push(command: InboxCommand, headers: Readonly<Record<string, string>>, signal: AbortSignal): Promise<AgentAnswer>;
}
