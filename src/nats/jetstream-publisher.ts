/**
 * Publishes outbox rows to JetStream with `Nats-Msg-Id` and the Net-Sync headers, and turns
 * every outcome into a PublishResult value.
 */
import type { NatsConnection } from 'nats';
import type {
  CommandPublisher,
  ConnectionListener,
  ConnectionState,
  OutboundMessage,
  PublishDone,
  PublishResult,
} from '../core/ports.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { classifyNoResponders, type PublishFailure, protocolProblem } from './classify-publish-error.js';
import type { NatsMetrics, PublishResultLabel } from './metrics.js';
import type { NatsConnector } from './nats-connector.js';
import { type Outcome, type OutcomeSink, PubAckInbox, TIMED_OUT } from './pub-ack-inbox.js';
import { EncodedHeaders, HeaderBlocks } from './wire-format.js';

/** Options of {@link JetStreamPublisher}. */
export interface JetStreamPublisherOptions {
  connector: NatsConnector;
  /** PubAck wait per message (config `nats.publishTimeoutMs`). Default 5 s. */
  timeoutMs?: number;
  /** How long a "does a stream capture this subject?" answer is reused. Default 5 s. */
  streamCheckTtlMs?: number;
  metrics?: NatsMetrics;
  logger?: Logger;
}

const NOT_CONNECTED: PublishFailure = {
  kind: 'failed',
  retryable: true,
  outcomeUnknown: false,
  code: 'NATS_DISCONNECTED',
  reason: 'not connected to NATS',
};

/**
 * `CommandPublisher` over JetStream. `publish()` never throws. Classification (verified on
 * nats-server 2.9.10 with nats.js 2.29):
 *
 * | what happened                         | retryable | outcomeUnknown | code                    |
 * |---------------------------------------|-----------|----------------|-------------------------|
 * | PubAck (duplicate or not)             | acked     |                |                         |
 * | not connected (nothing sent)          | yes       | no             | NATS_DISCONNECTED       |
 * | no PubAck before the timeout          | yes       | yes            | NATS_TIMEOUT            |
 * | 503, no stream captures the subject   | no        | no             | NATS_NO_STREAM          |
 * | 503, a stream exists (election…)      | yes       | no             | NATS_NO_RESPONDERS      |
 * | publish permission violation          | no        | no             | NATS_PERMISSION_DENIED  |
 * | larger than the server's max_payload  | no        | no             | NATS_PAYLOAD_TOO_LARGE  |
 * | larger than the stream's max_msg_size | no        | no             | NATS_PAYLOAD_TOO_LARGE  |
 * | other JetStream API error             | no        | no             | NATS_STREAM_CONFLICT    |
 * | would break the protocol (see below)  | no        | no             | NATS_PROTOCOL_LIMIT     |
 * | JetStream 5xx / resources exhausted   | yes       | no             | NATS_UNKNOWN            |
 * | anything else                         | yes       | yes            | NATS_UNKNOWN            |
 */
export class JetStreamPublisher implements CommandPublisher {
  private readonly connector: NatsConnector;
  private readonly timeoutMs: number;
  private readonly streamCheckTtlMs: number;
  private readonly metrics: NatsMetrics | undefined;
  private readonly log: Logger;
  private readonly streamChecks = new Map<string, { atMs: number; exists: Promise<boolean | undefined> }>();
  private inbox: PubAckInbox | undefined;
  // Subjects and header names that passed the full protocol check.
  private readonly checked = new Set<string>();
  private readonly names = new Set<string>();
  private readonly blocks = new HeaderBlocks();
  private readonly headers = new EncodedHeaders();
  private readonly tallied: Record<PublishResultLabel, number> = { acked: 0, duplicate: 0, retryable: 0, permanent: 0 };
  private tallyQueued = false;

  constructor(opts: JetStreamPublisherOptions) {
    this.connector = opts.connector;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.streamCheckTtlMs = opts.streamCheckTtlMs ?? 5_000;
    this.metrics = opts.metrics;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'jetstream-publisher' });
  }

  /** The connector's state. */
  get state(): ConnectionState {
    return this.connector.state;
  }

  /** Subscribes to the connector's state changes. */
  onState(listener: ConnectionListener): () => void {
    return this.connector.onState(listener);
  }

  /** Publishes one message and waits for its PubAck; see the class table for failures. */
  publish(msg: OutboundMessage, signal?: AbortSignal): Promise<PublishResult> {
    return new Promise<PublishResult>((resolve) => this.send(msg, resolve, resolvePromise, signal));
  }

  /**
   * Sends one message; `done(ctx, result)` hears its outcome (see the class table), from the
   * PubAck inbox's callback, or before `send` returns when nothing was sent. No promise, timer or
   * header object per message: the header block is written into a shared slab.
   */
  send<C>(msg: OutboundMessage, ctx: C, done: PublishDone<C>, signal?: AbortSignal): void {
    const startedAt = performance.now();
    const refused = this.refusal(msg, signal);
    if (refused !== null) {
      this.complete(msg, ctx, done, startedAt, refused);
      return;
    }
    const nc = this.connector.connection!;
    const inbox = this.inbox?.nc === nc ? this.inbox : this.newInbox(nc);
    this.headers.bytes = this.blocks.encode(msg.msgId, msg.headers);
    const now = inbox.send(msg, this.headers.asHeaders(), ctx, done, startedAt, signal);
    if (now !== undefined) this.complete(msg, ctx, done, startedAt, now);
  }

  // Why `msg` cannot be sent now, or null.
  private refusal(msg: OutboundMessage, signal: AbortSignal | undefined): PublishFailure | null {
    if (signal?.aborted) return ABORTED_BEFORE;
    if (
      this.connector.connection === undefined ||
      this.connector.jetstream === undefined ||
      this.connector.state !== 'connected'
    )
      return NOT_CONNECTED;
    // Never put on the wire what makes the server drop the connection (see protocolProblem).
    return this.checked.has(msg.subject) && plainHeaders(msg.msgId, msg.headers, this.names) ? null : this.check(msg);
  }

  // The full protocol check; subjects and header names that pass it are remembered.
  private check(msg: OutboundMessage): PublishFailure | null {
    const refused = protocolProblem(msg.subject, { ...msg.headers, [MSG_ID]: msg.msgId });
    if (refused !== null) return refused;
    if (this.checked.size >= 1_000) this.checked.clear();
    this.checked.add(msg.subject);
    if (this.names.size >= 1_000) this.names.clear();
    for (const k in msg.headers) this.names.add(k);
    return null;
  }

  // One PubAck inbox per connection; a new connection (after an unexpected close) gets a new one.
  private newInbox(nc: NatsConnection): PubAckInbox {
    this.inbox = new PubAckInbox(nc, this.timeoutMs, this.onOutcome);
    return this.inbox;
  }

  private readonly onOutcome: OutcomeSink = (msg, ctx, done, startedAt, o) =>
    this.complete(msg, ctx, done as PublishDone<unknown>, startedAt, o);

  // A 503 is judged by whether a stream captures the subject; a publish given up on fences the connection.
  private complete<C>(msg: OutboundMessage, ctx: C, done: PublishDone<C>, startedAt: number, o: Outcome): void {
    if (o === 'no-responders') {
      void this.streamExists(msg.subject).then((exists) =>
        this.finish(msg, ctx, done, startedAt, classifyNoResponders(msg.subject, exists)),
      );
      return;
    }
    // Given up on: the message may still be on its way (in the kernel's queue, behind a cut
    // link). Reset the connection before anyone may publish it again (socket-fence.ts).
    if (o.kind === 'failed' && o.outcomeUnknown)
      this.connector.fence(o === TIMED_OUT ? 'pubAck-timeout' : 'outcome-unknown');
    this.finish(msg, ctx, done, startedAt, o);
  }

  private finish<C>(msg: OutboundMessage, ctx: C, done: PublishDone<C>, startedAt: number, r: PublishResult): void {
    if (this.metrics !== undefined) {
      this.metrics.publishDuration.observe((performance.now() - startedAt) / 1_000);
      this.tally(label(r));
    }
    if (r.kind === 'failed')
      this.log.debug({ subject: msg.subject, msgId: msg.msgId, code: r.code, reason: r.reason }, 'publish failed');
    try {
      done(ctx, r);
    } catch (err) {
      // A caller's bug: logged, never thrown into nats.js's subscription callback.
      this.log.error({ err, msgId: msg.msgId }, 'publish outcome handler threw');
    }
  }

  // Publish counts by result, added to the counter once per burst of outcomes (a microtask later).
  private tally(l: PublishResultLabel): void {
    this.tallied[l]++;
    if (this.tallyQueued) return;
    this.tallyQueued = true;
    queueMicrotask(() => {
      this.tallyQueued = false;
      for (const k of LABELS) {
        const n = this.tallied[k];
        if (n === 0) continue;
        this.tallied[k] = 0;
        this.metrics?.publishTotal.inc({ result: k }, n);
      }
    });
  }

  // Whether a stream captures `subject`, single-flight and cached; undefined when unknown.
  private streamExists(subject: string): Promise<boolean | undefined> {
    const now = Date.now();
    const hit = this.streamChecks.get(subject);
    if (hit !== undefined && now - hit.atMs < this.streamCheckTtlMs) return hit.exists;
    if (this.streamChecks.size > 1_000) this.streamChecks.clear();
    const exists = this.lookup(subject);
    this.streamChecks.set(subject, { atMs: now, exists });
    return exists;
  }

  private async lookup(subject: string): Promise<boolean | undefined> {
    const jsm = this.connector.manager;
    if (jsm === undefined) return undefined;
    try {
      const names = await jsm.streams.names(subject).next();
      return names.length > 0;
    } catch (err) {
      // JetStream itself did not answer: we cannot tell, so the publish stays retryable.
      this.streamChecks.delete(subject);
      this.log.debug({ subject, err: String(err) }, 'stream lookup failed');
      return undefined;
    }
  }
}

function label(r: PublishResult): PublishResultLabel {
  if (r.kind === 'acked') return r.duplicate ? 'duplicate' : 'acked';
  return r.retryable ? 'retryable' : 'permanent';
}

const MSG_ID = 'Nats-Msg-Id';
const ABORTED_BEFORE: PublishFailure = { ...NOT_CONNECTED, code: 'ABORTED', reason: 'aborted before sending' };
const LABELS: readonly PublishResultLabel[] = ['acked', 'duplicate', 'retryable', 'permanent'];
const resolvePromise: PublishDone<(r: PublishResult) => void> = (resolve, r) => resolve(r);

/**
 * True when the header set needs no full check: every name already passed one, and neither a
 * value nor the message ID holds a line break (protocolProblem's rules, on the fast path).
 */
function plainHeaders(msgId: string, headers: Readonly<Record<string, string>>, names: ReadonlySet<string>): boolean {
  if (hasLineBreak(msgId)) return false;
  for (const k in headers) if (!names.has(k) || hasLineBreak(headers[k]!)) return false;
  return true;
}

function hasLineBreak(v: string): boolean {
  return v.indexOf('\r') >= 0 || v.indexOf('\n') >= 0;
}
