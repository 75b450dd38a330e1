/**
 * The inbox's durable consumers on JetStream: one per subject entry (nats-server 2.9 takes one
 * filter per consumer), ack explicit, created or updated at start through the consumer spec of
 * streams as code (core/consumer-spec.ts, consumer-config.ts), read by `consume()` in push
 * mode and by `fetch()` in pull mode. Deliveries become {@link InboxDelivery} values; each
 * consumer's max-deliveries advisories become {@link InboxExhausted} values.
 */
import { createHash } from 'node:crypto';
import type { ConsumerConfig, JsMsg, JetStreamManager } from 'nats';
import { type ConsumerSpec, diffConsumer, IMMUTABLE_CONSUMER_FIELDS } from '../core/consumer-spec.js';
import { NetSyncError } from '../core/errors.js';
import type {
  InboxConsumerLag,
  InboxDelivery,
  InboxExhausted,
  InboxSource,
  StoredInboxMessage,
} from '../core/inbox.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { fromConsumerConfig, toConsumerConfig, updatedConsumerConfig } from './consumer-config.js';
import { InboxAdvisories } from './inbox-advisories.js';
import { headerRecord } from './message-headers.js';
import type { NatsConnector } from './nats-connector.js';

/** Options of {@link JetStreamInboxSource}. */
export interface InboxConsumerOptions {
  connector: NatsConnector;
  /** Filter subjects, one consumer each. */
  subjects: readonly string[];
  /** Durable name; with several subjects each consumer is `<durable>-<8 hex of the subject>`. */
  durable: string;
  ackWaitMs: number;
  maxDeliver: number;
  maxAckPending: number;
  deliverPolicy: 'all' | 'new' | 'last';
  logger?: Logger;
}

interface Target {
  subject: string;
  consumer: string;
  stream?: string;
}

const DELIVER: Record<InboxConsumerOptions['deliverPolicy'], ConsumerSpec['deliverPolicy']> = {
  all: 'all',
  new: 'new',
  last: 'last-per-subject',
};

/** The consumer name for `subject`: the durable itself when it is the only one. */
export function inboxConsumerName(durable: string, subject: string, only: boolean): string {
  return only ? durable : `${durable}-${createHash('sha256').update(subject).digest('hex').slice(0, 8)}`;
}

/** {@link InboxSource} over durable pull consumers. */
export class JetStreamInboxSource implements InboxSource {
  private readonly targets: Target[];
  private readonly log: Logger;
  private readonly advisories: InboxAdvisories;
  private fetchCursor = 0;

  constructor(private readonly opts: InboxConsumerOptions) {
    const only = opts.subjects.length === 1;
    this.targets = opts.subjects.map((subject) => ({
      subject,
      consumer: inboxConsumerName(opts.durable, subject, only),
    }));
    this.log = (opts.logger ?? silentLogger()).child({ component: 'inbox-consumer' });
    this.advisories = new InboxAdvisories(opts.connector, this.targets, this.log);
  }

  async ensure(signal: AbortSignal): Promise<void> {
    const jsm = this.manager();
    for (const t of this.targets) {
      if (signal.aborted) throw new NetSyncError('ABORTED', 'inbox setup aborted');
      t.stream = await this.streamFor(jsm, t.subject);
      const spec = this.spec(t);
      try {
        const existing = await jsm.consumers.info(t.stream, t.consumer).catch(() => undefined);
        if (existing === undefined) {
          await jsm.consumers.add(t.stream, toConsumerConfig(spec));
          this.log.info({ stream: t.stream, consumer: t.consumer, subject: t.subject }, 'inbox consumer created');
        } else {
          await this.update(jsm, t, spec, existing.config);
        }
      } catch (err) {
        throw new NetSyncError('NATS_STREAM_CONFLICT', `inbox consumer ${t.consumer} on ${t.stream}: ${String(err)}`, {
          cause: err,
        });
      }
    }
    this.advisories.listen();
  }

  // The consumer as streams-as-code declares one (core/consumer-spec.ts): pull, ack explicit.
  private spec(t: Target): ConsumerSpec {
    return {
      name: t.consumer,
      mode: 'pull',
      filterSubject: t.subject,
      deliverPolicy: DELIVER[this.opts.deliverPolicy],
      ackPolicy: 'explicit',
      ackWait: this.opts.ackWaitMs,
      maxDeliver: this.opts.maxDeliver,
      maxAckPending: this.opts.maxAckPending,
      backoff: [],
    };
  }

  // Brings an existing consumer to the spec with the rules of `streams apply`, except that what the
  // server cannot change in place (a deliver policy only applies at creation; several sidecars may
  // share the durable) is kept and logged rather than refused, and a backoff set on the server is
  // left alone (the inbox naks with its own delays).
  private async update(jsm: JetStreamManager, t: Target, spec: ConsumerSpec, server: ConsumerConfig): Promise<void> {
    const have = fromConsumerConfig(server);
    const want: ConsumerSpec = {
      ...spec,
      mode: have.mode,
      deliverPolicy: have.deliverPolicy,
      ackPolicy: have.ackPolicy,
      backoff: have.backoff,
      ackWait: have.backoff[0] ?? spec.ackWait,
    };
    const diff = diffConsumer(t.stream!, spec, have);
    if (diff.action !== 'update') return;
    const fixed = diff.drift.filter((d) => IMMUTABLE_CONSUMER_FIELDS.includes(d.field));
    if (fixed.length > 0)
      this.log.warn(
        { stream: t.stream, consumer: t.consumer, fields: fixed.map((d) => d.field) },
        'inbox consumer differs in fields the server cannot change; kept as it is',
      );
    if (diffConsumer(t.stream!, want, have).action === 'none') return;
    await jsm.consumers.add(t.stream!, updatedConsumerConfig(server, want));
    this.log.info({ stream: t.stream, consumer: t.consumer }, 'inbox consumer updated');
  }

  async run(handler: (d: InboxDelivery) => Promise<void>, concurrency: number, signal: AbortSignal): Promise<void> {
    await Promise.all(this.targets.map((t) => this.runOne(t, handler, concurrency, signal)));
  }

  // One consumer's loop: consume, hand out under a concurrency cap, and start over after any
  // break (a server restart ends the iterator) once the connection is back.
  private async runOne(
    t: Target,
    handler: (d: InboxDelivery) => Promise<void>,
    concurrency: number,
    signal: AbortSignal,
  ): Promise<void> {
    const running = new Set<Promise<void>>();
    for (let attempt = 0; !signal.aborted; attempt++) {
      let msgs: Awaited<ReturnType<InboxConsumerHandle['consume']>> | undefined;
      const stop = (): void => void msgs?.stop();
      signal.addEventListener('abort', stop, { once: true });
      // A lost connection is replaced, never revived (nats-connector.ts): end this consume and
      // start over on the next one, rather than wait on an iterator of the closed one.
      const offState = this.opts.connector.onState((state) => {
        if (state !== 'connected') stop();
      });
      try {
        await this.waitConnected(signal);
        if (t.stream === undefined) await this.ensure(signal);
        this.advisories.listen();
        const consumer = await this.jetstream().consumers.get(t.stream!, t.consumer);
        msgs = await consumer.consume({ max_messages: Math.max(concurrency, 1), idle_heartbeat: 5_000 });
        attempt = 0;
        for await (const m of msgs) {
          const p = handler(this.delivery(t, m)).catch((err) =>
            this.log.error({ err, consumer: t.consumer, seq: m.seq }, 'inbox handler failed'),
          );
          running.add(p);
          void p.finally(() => running.delete(p));
          while (running.size >= concurrency) await Promise.race(running);
        }
      } catch (err) {
        if (!signal.aborted) this.log.warn({ err, consumer: t.consumer }, 'inbox consumer interrupted; restarting');
      } finally {
        signal.removeEventListener('abort', stop);
        offState();
        msgs?.stop();
      }
      if (!signal.aborted) await sleep(Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)), signal);
    }
    await Promise.allSettled(running);
  }

  async fetch(max: number, waitMs: number, signal: AbortSignal): Promise<InboxDelivery[]> {
    if (this.opts.connector.state !== 'connected') return [];
    const out: InboxDelivery[] = [];
    // Round-robin over the consumers; the last one waits up to `waitMs` when nothing came yet.
    for (let i = 0; i < this.targets.length && out.length < max && !signal.aborted; i++) {
      const t = this.targets[(this.fetchCursor + i) % this.targets.length]!;
      if (t.stream === undefined) await this.ensure(signal);
      this.advisories.listen();
      const last = i === this.targets.length - 1;
      const expires = last && out.length === 0 ? Math.max(waitMs, 1_000) : 1_000;
      const consumer = await this.jetstream().consumers.get(t.stream!, t.consumer);
      const batch = await consumer.fetch({ max_messages: max - out.length, expires });
      const stop = (): void => void batch.stop();
      signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const m of batch) out.push(this.delivery(t, m));
      } finally {
        signal.removeEventListener('abort', stop);
      }
    }
    this.fetchCursor++;
    return out;
  }

  async ackBySubject(ackSubject: string): Promise<boolean> {
    const nc = this.opts.connector.connection;
    if (nc === undefined || this.opts.connector.state !== 'connected') return false;
    try {
      await nc.request(ackSubject, new TextEncoder().encode('+ACK'), { timeout: 2_000 });
      return true;
    } catch {
      return false;
    }
  }

  async lag(): Promise<InboxConsumerLag[]> {
    if (this.opts.connector.state !== 'connected') return [];
    const jsm = this.manager();
    const out: InboxConsumerLag[] = [];
    for (const t of this.targets) {
      if (t.stream === undefined) continue;
      const ci = await jsm.consumers.info(t.stream, t.consumer).catch(() => undefined);
      if (ci !== undefined)
        out.push({ consumer: t.consumer, stream: t.stream, pending: ci.num_pending, ackPending: ci.num_ack_pending });
    }
    return out;
  }

  onExhausted(handler: (e: InboxExhausted) => void, signal: AbortSignal): void {
    this.advisories.watch(handler, signal);
  }

  async stored(stream: string, streamSeq: number): Promise<StoredInboxMessage | undefined> {
    let sm: Awaited<ReturnType<JetStreamManager['streams']['getMessage']>>;
    try {
      sm = await this.manager().streams.getMessage(stream, { seq: streamSeq });
    } catch (err) {
      if ((err as { api_error?: { err_code?: number } }).api_error?.err_code === NO_MESSAGE_FOUND) return undefined;
      if (err instanceof NetSyncError) throw err;
      throw new NetSyncError('NATS_UNKNOWN', `reading ${stream}#${streamSeq}: ${String(err)}`, { cause: err });
    }
    const headers: Record<string, string> = {};
    if (sm.header !== undefined) for (const [k, v] of sm.header) if (v[0] !== undefined) headers[k] = v[0];
    return { stream, streamSeq, subject: sm.subject, data: sm.data, headers, publishedAtMs: sm.time.getTime() };
  }

  private delivery(t: Target, m: JsMsg): InboxDelivery {
    const headers = headerRecord(m.headers);
    return {
      stream: m.info.stream,
      streamSeq: m.seq,
      subject: m.subject,
      data: m.data,
      headers,
      deliveryCount: m.info.redeliveryCount,
      publishedAtMs: Math.floor(m.info.timestampNanos / 1e6),
      consumer: t.consumer,
      ackSubject: replyOf(m),
      // Sent, not confirmed: waiting for the server's reply would cost a round trip per command,
      // and an ack that got lost only brings a redelivery, which the applied record absorbs.
      ack: async () => {
        if (this.opts.connector.state !== 'connected') return false;
        m.ack();
        return true;
      },
      nak: (delayMs) => m.nak(delayMs),
      // nats-server 2.9 does not read a reason after +TERM (it would not terminate): the reason
      // goes into the dead-letter notice instead.
      term: () => m.term(),
      working: () => m.working(),
    };
  }

  private async streamFor(jsm: JetStreamManager, subject: string): Promise<string> {
    try {
      return await jsm.streams.find(subject);
    } catch (err) {
      throw new NetSyncError('NATS_NO_STREAM', `no stream captures inbox subject ${subject}`, { cause: err });
    }
  }

  private async waitConnected(signal: AbortSignal): Promise<void> {
    while (this.opts.connector.state !== 'connected' && !signal.aborted) await sleep(200, signal);
  }

  private manager(): JetStreamManager {
    const jsm = this.opts.connector.manager;
    if (jsm === undefined) throw new NetSyncError('NATS_DISCONNECTED', 'not connected to NATS');
    return jsm;
  }

  private jetstream(): NonNullable<NatsConnector['jetstream']> {
    const js = this.opts.connector.jetstream;
    if (js === undefined) throw new NetSyncError('NATS_DISCONNECTED', 'not connected to NATS');
    return js;
  }
}

// JetStream's API error code for "no message found" (a message removed by retention or deleted).
const NO_MESSAGE_FOUND = 10037;

// JsMsg keeps the core message (and its reply subject, where acks go) as `msg` (nats.js 2.29).
function replyOf(m: JsMsg): string {
  return (m as unknown as { msg?: { reply?: string } }).msg?.reply ?? '';
}

type InboxConsumerHandle = Awaited<ReturnType<NonNullable<NatsConnector['jetstream']>['consumers']['get']>>;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
