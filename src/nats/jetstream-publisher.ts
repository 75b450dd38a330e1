/**
 * Publishes outbox rows to JetStream with `Nats-Msg-Id` and the Net-Sync headers, and turns
 * every outcome into a PublishResult value.
 */
import { headers as natsHeaders } from 'nats';
import type { CommandPublisher, ConnectionListener, ConnectionState, OutboundMessage, PublishResult } from '../core/ports.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { classifyNoResponders, classifyPublishError, type PublishFailure } from './classify-publish-error.js';
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
      this.log.debug({ subject: msg.subject, msgId: msg.msgId, code: result.code, reason: result.reason }, 'publish failed');
    }
    return result;
  }

  private async send(msg: OutboundMessage, signal?: AbortSignal): Promise<PublishResult> {
    if (signal?.aborted) return { ...NOT_CONNECTED, code: 'ABORTED', reason: 'aborted before sending' };
    const js = this.connector.jetstream;
    if (js === undefined || this.connector.state !== 'connected') return NOT_CONNECTED;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(msg.headers)) h.set(k, v);
    try {
      const sent = js.publish(msg.subject, msg.body, { msgID: msg.msgId, headers: h, timeout: this.timeoutMs });
      const pa = await (signal === undefined ? sent : raceAbort(sent, signal));
      return { kind: 'acked', stream: pa.stream, seq: pa.seq, duplicate: pa.duplicate };
    } catch (err) {
      if (err === ABORTED) {
        return { kind: 'failed', retryable: true, outcomeUnknown: true, code: 'ABORTED', reason: 'aborted while waiting for the PubAck' };
      }
      const verdict = classifyPublishError(err);
      if (verdict !== 'no-responders') return verdict;
      return classifyNoResponders(msg.subject, await this.streamExists(msg.subject));
    }
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

const ABORTED = Symbol('aborted');

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function label(r: PublishResult): PublishResultLabel {
  if (r.kind === 'acked') return r.duplicate ? 'duplicate' : 'acked';
  return r.retryable ? 'retryable' : 'permanent';
}
