/**
 * An in-memory `InboxSource` for unit tests of the inbox: deliveries the test makes with
 * `delivery()` are handed to push mode's handler with `push()`, or queued for pull mode's
 * `fetch()`. Each delivery records its acknowledgements (`calls`), and every call is also noted
 * in `journal` when one is given. Whether NATS confirms an ack is `ackConfirmed`. `exhaust()`
 * reports a command past its max deliveries, as nats-server's advisory would; `stored()`
 * answers from the deliveries made, or `storedError` when set.
 */
import type {
  InboxConsumerLag,
  InboxDelivery,
  InboxExhausted,
  InboxSource,
  StoredInboxMessage,
} from '../../src/core/inbox.js';
import { inboxKey } from '../../src/core/inbox.js';

/** A delivery whose acknowledgements are recorded: `ack`, `nak:<delayMs>`, `term:<reason>`, `working`. */
export interface RecordedDelivery extends InboxDelivery {
  readonly calls: string[];
}

/** What a test says about one delivery. */
export interface DeliverySpec {
  streamSeq: number;
  /** `Net-Sync-Correlation-Id`; none: the delivery is known by its Nats-Msg-Id or stream place. */
  correlationId?: string;
  deliveryCount?: number;
  /** JSON body; default a net-sync command body with payload `{ n: streamSeq }`. */
  body?: unknown;
  headers?: Record<string, string>;
}

const encoder = new TextEncoder();

/** In-memory fake of the `InboxSource` port. */
export class MemoryInboxSource implements InboxSource {
  /** What `ack()` and `ackBySubject()` answer: whether NATS confirmed. */
  ackConfirmed = true;
  /** Reply subjects acked through `ackBySubject`, confirmed or not. */
  readonly subjectAcks: string[] = [];
  /** Deliveries `fetch()` hands out next. */
  readonly queue: RecordedDelivery[] = [];
  /** Times `fetch()` was called. */
  fetches = 0;
  /** What `stored()` throws while set (NATS away). */
  storedError: Error | undefined;
  /** Calls of `stored()`. */
  storedReads = 0;
  private handler: ((d: InboxDelivery) => Promise<void>) | undefined;
  private exhaustedHandler: ((e: InboxExhausted) => void) | undefined;
  private readonly made = new Map<number, RecordedDelivery>();

  /** `journal` receives `<call>:<key>` for each acknowledgement, `<key>` being the delivery's inbox key. */
  constructor(
    private readonly consumer = 'net-sync-test',
    private readonly journal?: string[],
  ) {}

  /** A new delivery of stream `COMMANDS`, not yet handed out. */
  delivery(spec: DeliverySpec): RecordedDelivery {
    const headers: Record<string, string> = { ...spec.headers };
    if (spec.correlationId !== undefined) headers['Net-Sync-Correlation-Id'] = spec.correlationId;
    const body = spec.body ?? {
      schemaVersion: 1,
      correlationId: spec.correlationId,
      payload: { n: spec.streamSeq },
      endorsements: [],
    };
    const calls: string[] = [];
    const note = (call: string): void => {
      calls.push(call);
      this.journal?.push(`${call.split(':', 1)[0]}:${inboxKey(d)}`);
    };
    const d: RecordedDelivery = {
      stream: 'COMMANDS',
      streamSeq: spec.streamSeq,
      subject: 'root.solar.command.cohort.assign',
      data: encoder.encode(JSON.stringify(body)),
      headers,
      deliveryCount: spec.deliveryCount ?? 1,
      publishedAtMs: 1_700_000_000_000,
      consumer: this.consumer,
      ackSubject: `$JS.ACK.COMMANDS.${this.consumer}.${spec.deliveryCount ?? 1}.${spec.streamSeq}`,
      calls,
      ack: async () => {
        note('ack');
        return this.ackConfirmed;
      },
      nak: (delayMs) => note(`nak:${delayMs}`),
      term: (reason) => note(`term:${reason}`),
      working: () => note('working'),
    };
    this.made.set(d.streamSeq, d);
    return d;
  }

  /** Reports `streamSeq` exhausted after `deliveries`, as the max-deliveries advisory does. */
  exhaust(streamSeq: number, deliveries: number): void {
    if (this.exhaustedHandler === undefined) throw new Error('the inbox does not watch for exhausted commands');
    this.exhaustedHandler({ stream: 'COMMANDS', consumer: this.consumer, streamSeq, deliveries });
  }

  /** Push mode: hands `d` to the running inbox's handler and resolves once it settled it. */
  async push(d: RecordedDelivery): Promise<void> {
    if (this.handler === undefined) throw new Error('the inbox is not running in push mode');
    await this.handler(d);
  }

  async ensure(): Promise<void> {}

  run(handler: (d: InboxDelivery) => Promise<void>, _concurrency: number, signal: AbortSignal): Promise<void> {
    this.handler = handler;
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  async fetch(max: number): Promise<InboxDelivery[]> {
    this.fetches++;
    return this.queue.splice(0, max);
  }

  async ackBySubject(ackSubject: string): Promise<boolean> {
    this.subjectAcks.push(ackSubject);
    return this.ackConfirmed;
  }

  async lag(): Promise<InboxConsumerLag[]> {
    return [];
  }

  onExhausted(handler: (e: InboxExhausted) => void, signal: AbortSignal): void {
    this.exhaustedHandler = handler;
    signal.addEventListener('abort', () => (this.exhaustedHandler = undefined), { once: true });
  }

  async stored(stream: string, streamSeq: number): Promise<StoredInboxMessage | undefined> {
    this.storedReads++;
    if (this.storedError !== undefined) throw this.storedError;
    const d = this.made.get(streamSeq);
    if (d === undefined || stream !== d.stream) return undefined;
    return {
      stream: d.stream,
      streamSeq: d.streamSeq,
      subject: d.subject,
      data: d.data,
      headers: d.headers,
      publishedAtMs: d.publishedAtMs,
    };
  }
}
