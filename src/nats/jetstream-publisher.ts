/**
 * Publishes outbox rows to JetStream with `Nats-Msg-Id` and the Net-Sync headers, and turns
 * every outcome into a PublishResult value.
 */
import {
  createInbox,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type NatsError,
  type Subscription,
} from 'nats';
import type {
  CommandPublisher,
  ConnectionListener,
  ConnectionState,
  OutboundMessage,
  PublishResult,
} from '../core/ports.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import {
  classifyNoResponders,
  classifyPublishError,
  type PublishFailure,
  protocolProblem,
} from './classify-publish-error.js';
import type { NatsMetrics, PublishResultLabel } from './metrics.js';
import type { NatsConnector } from './nats-connector.js';

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
  async publish(msg: OutboundMessage, signal?: AbortSignal): Promise<PublishResult> {
    const started = performance.now();
    const result = await this.send(msg, signal);
    this.metrics?.publishDuration.observe((performance.now() - started) / 1_000);
    this.metrics?.publishTotal.inc({ result: label(result) });
    if (result.kind === 'failed') {
      this.log.debug(
        { subject: msg.subject, msgId: msg.msgId, code: result.code, reason: result.reason },
        'publish failed',
      );
    }
    return result;
  }

  private async send(msg: OutboundMessage, signal?: AbortSignal): Promise<PublishResult> {
    if (signal?.aborted) return { ...NOT_CONNECTED, code: 'ABORTED', reason: 'aborted before sending' };
    const nc = this.connector.connection;
    if (nc === undefined || this.connector.jetstream === undefined || this.connector.state !== 'connected')
      return NOT_CONNECTED;
    // Never put on the wire what makes the server drop the connection (see protocolProblem).
    const refused = protocolProblem(msg.subject, { ...msg.headers, [MSG_ID]: msg.msgId });
    if (refused !== null) return refused;
    const h = natsHeaders();
    h.set(MSG_ID, msg.msgId);
    for (const k in msg.headers) h.set(k, msg.headers[k]!);
    const outcome = await this.inboxFor(nc).publish(msg.subject, msg.body, h, signal);
    // Given up on: the message may still be on its way (in the kernel's queue, behind a cut
    // link). Reset the connection before anyone may publish it again (socket-fence.ts).
    if (outcome !== 'no-responders' && outcome.kind === 'failed' && outcome.outcomeUnknown)
      this.connector.fence(outcome === TIMED_OUT ? 'pubAck-timeout' : 'outcome-unknown');
    if (outcome !== 'no-responders') return outcome;
    return classifyNoResponders(msg.subject, await this.streamExists(msg.subject));
  }

  // One PubAck inbox per connection; a new connection (after an unexpected close) gets a new one.
  private inboxFor(nc: NatsConnection): PubAckInbox {
    if (this.inbox?.nc !== nc) this.inbox = new PubAckInbox(nc, this.timeoutMs);
    return this.inbox;
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
const decoder = new TextDecoder();
const TIMED_OUT: PublishFailure = {
  kind: 'failed',
  retryable: true,
  outcomeUnknown: true,
  code: 'NATS_TIMEOUT',
  reason: 'no PubAck before the timeout',
};
const ABORTED_WAITING: PublishFailure = {
  kind: 'failed',
  retryable: true,
  outcomeUnknown: true,
  code: 'ABORTED',
  reason: 'aborted while waiting for the PubAck',
};

type Outcome = PublishResult | 'no-responders';

interface Pending {
  subject: string;
  deadline: number;
  signal: AbortSignal | undefined;
  settle(outcome: Outcome): void;
}

/**
 * Pipelined publishing on one connection: each message is a core publish whose reply subject
 * is `<inbox>.<token>`, and every PubAck arrives on ONE wildcard subscription. This is what
 * `js.publish()` does underneath, minus its per-message request object, timer, cancellation
 * error (with a stack trace) and abort listener: one timeout sweep and one abort listener per
 * signal serve every message in flight. Outcomes mirror `js.publish()`: a PubAck or its API
 * error, a 503 (no responders), a publish permission error (matched by subject, oldest
 * first, as nats.js does), a synchronous refusal (max_payload), a timeout, a closed connection.
 */
class PubAckInbox {
  private readonly prefix: string;
  private readonly pending = new Map<string, Pending>();
  private readonly bySignal = new WeakMap<AbortSignal, Set<string>>();
  private readonly sub: Subscription;
  private sweeper: NodeJS.Timeout | undefined;
  private next = 0;

  constructor(
    readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, m) => this.onAck(err, m) });
    void this.watchPermissions();
    void nc.closed().then(() => this.failAll({ code: 'CONNECTION_CLOSED', message: 'connection closed' }));
  }

  /** Sends one message and resolves with its outcome; never rejects. */
  publish(subject: string, body: Uint8Array, h: MsgHdrs, signal: AbortSignal | undefined): Promise<Outcome> {
    const token = (this.next++).toString(36);
    try {
      this.nc.publish(subject, body, { reply: this.prefix + token, headers: h });
    } catch (err) {
      // Refused before sending (max_payload, bad subject, closed): nothing reached the server.
      const verdict = classifyPublishError(err);
      return Promise.resolve(verdict === 'no-responders' ? verdict : { ...verdict, outcomeUnknown: false });
    }
    return new Promise<Outcome>((resolve) => {
      this.pending.set(token, { subject, deadline: performance.now() + this.timeoutMs, signal, settle: resolve });
      if (signal !== undefined) this.track(signal, token);
      this.sweeper ??= setInterval(() => this.sweep(), Math.max(5, Math.min(100, this.timeoutMs / 10))).unref();
    });
  }

  private take(token: string): Pending | undefined {
    const p = this.pending.get(token);
    if (p === undefined) return undefined;
    this.pending.delete(token);
    if (p.signal !== undefined) this.bySignal.get(p.signal)?.delete(token);
    if (this.pending.size === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
    return p;
  }

  private onAck(err: NatsError | null, m: Msg): void {
    if (err !== null) {
      this.failAll(err);
      return;
    }
    const p = this.take(m.subject.slice(this.prefix.length));
    if (p === undefined) return; // late: already timed out or aborted
    p.settle(parseAck(m));
  }

  // Publish permission errors come as connection status events naming the subject.
  private async watchPermissions(): Promise<void> {
    for await (const s of this.nc.status()) {
      const ctx = s.permissionContext;
      if (s.type !== 'error' || ctx?.operation !== 'publish') continue;
      for (const [token, p] of this.pending) {
        if (p.subject !== ctx.subject) continue;
        this.take(token)?.settle(
          classify({ code: 'PERMISSIONS_VIOLATION', message: `Permissions Violation for Publish to "${ctx.subject}"` }),
        );
        break;
      }
    }
  }

  private track(signal: AbortSignal, token: string): void {
    let tokens = this.bySignal.get(signal);
    if (tokens === undefined) {
      const set = new Set<string>();
      tokens = set;
      this.bySignal.set(signal, set);
      signal.addEventListener(
        'abort',
        () => {
          for (const t of [...set]) this.take(t)?.settle(ABORTED_WAITING);
        },
        { once: true },
      );
    }
    tokens.add(token);
  }

  // Deadlines grow with insertion order (one timeout for all), so the sweep stops at the first live one.
  private sweep(): void {
    const now = performance.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) break;
      this.take(token)?.settle(TIMED_OUT);
    }
  }

  private failAll(err: unknown): void {
    const outcome = classify(err);
    for (const token of [...this.pending.keys()]) this.take(token)?.settle(outcome);
    if (this.nc.isClosed()) this.sub.unsubscribe();
  }
}

function classify(err: unknown): Outcome {
  return classifyPublishError(err);
}

// A PubAck, a JetStream API error, or a status message (503 = no responders).
function parseAck(m: Msg): Outcome {
  if (m.data.length === 0 && m.headers?.hasError) {
    return m.headers.code === 503
      ? 'no-responders'
      : classify({ code: String(m.headers.code), message: m.headers.description });
  }
  let ack: {
    stream?: string;
    seq?: number;
    duplicate?: boolean;
    error?: { code?: number; err_code?: number; description?: string };
  };
  try {
    ack = JSON.parse(decoder.decode(m.data)) as typeof ack;
  } catch (err) {
    return classify({ code: 'BAD_JSON', message: `unreadable PubAck: ${String(err)}` });
  }
  if (ack.error !== undefined && (ack.error.code ?? 0) >= 300) {
    return classify({ code: String(ack.error.code), message: ack.error.description, api_error: ack.error });
  }
  if (typeof ack.stream !== 'string' || ack.stream === '' || typeof ack.seq !== 'number') {
    return classify({ code: 'BAD_JSON', message: 'invalid PubAck' });
  }
  return { kind: 'acked', stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true };
}
