/**
 * The max-deliveries advisories of the inbox's consumers (nats-server's
 * `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`), as {@link InboxExhausted}
 * values: a command JetStream stopped delivering with no ack or term, which may still need its
 * dead-letter notice. The inbox dead-letters in band; this is the fallback for a backstop
 * delivery nats-server 2.9.10 counted into a dead sidecar's pull request. See docs/inbox.md.
 */
import type { NatsConnection, Subscription } from 'nats';
import type { InboxExhausted } from '../core/inbox.js';
import type { Logger } from '../observability/logger.js';
import type { NatsConnector } from './nats-connector.js';

/** One consumer whose advisories are wanted; `stream` is unknown until the consumer exists. */
export interface AdvisoryTarget {
  stream?: string;
  consumer: string;
}

/** Subscriptions to the max-deliveries advisories of a set of consumers, one per connection. */
export class InboxAdvisories {
  private handler: ((e: InboxExhausted) => void) | undefined;
  private readonly subs = new Map<string, { nc: NatsConnection; sub: Subscription }>();

  constructor(
    private readonly connector: NatsConnector,
    private readonly targets: readonly AdvisoryTarget[],
    private readonly log: Logger,
  ) {}

  /** Hands every advisory to `handler` until `signal` aborts. */
  watch(handler: (e: InboxExhausted) => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    this.handler = handler;
    // A new connection (after the connector gave one up) needs its own subscriptions; on the
    // same connection nats.js resubscribes by itself after a reconnect.
    const off = this.connector.onState((s) => {
      if (s === 'connected') this.listen();
    });
    signal.addEventListener(
      'abort',
      () => {
        off();
        this.handler = undefined;
        for (const s of this.subs.values()) s.sub.unsubscribe();
        this.subs.clear();
      },
      { once: true },
    );
    this.listen();
  }

  /**
   * Subscribes each target whose stream is known, on the current connection, unless already
   * there. Call it before every pull: nats-server sends the advisory when a pull finds the
   * command past its max deliveries, so a sidecar just restarted hears the one its first pull trips.
   */
  listen(): void {
    // An advisory is a core message: one sent while no sidecar of the durable is connected and
    // subscribed is lost. The backstop delivery makes that rare (docs/inbox.md).
    const nc = this.connector.connection;
    if (this.handler === undefined || nc === undefined || nc.isClosed()) return;
    for (const t of this.targets) {
      const stream = t.stream;
      if (stream === undefined || this.subs.get(t.consumer)?.nc === nc) continue;
      this.subs.get(t.consumer)?.sub.unsubscribe();
      const sub = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${t.consumer}`, {
        callback: (err, m) => {
          if (err !== null) return this.log.warn({ err, consumer: t.consumer }, 'inbox advisory subscription failed');
          const e = parseMaxDeliveries(m.data);
          if (e === undefined || e.stream !== stream || e.consumer !== t.consumer)
            return this.log.warn({ consumer: t.consumer }, 'inbox advisory not understood');
          this.handler?.(e);
        },
      });
      this.subs.set(t.consumer, { nc, sub });
    }
  }
}

/**
 * Reads nats-server 2.9's `io.nats.jetstream.advisory.v1.max_deliver` advisory: `{type, id,
 * timestamp, stream, consumer, stream_seq, deliveries}`; undefined when it is not one.
 */
export function parseMaxDeliveries(data: Uint8Array): InboxExhausted | undefined {
  try {
    const a = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
    const { stream, consumer, stream_seq: seq, deliveries } = a;
    if (typeof stream !== 'string' || typeof consumer !== 'string') return undefined;
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(deliveries)) return undefined;
    return { stream, consumer, streamSeq: seq as number, deliveries: deliveries as number };
  } catch {
    return undefined;
  }
}
