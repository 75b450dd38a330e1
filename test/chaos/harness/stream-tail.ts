/**
 * Follows a stream from its first message with an ordered consumer on a direct connection, so
 * that the oracle sees every message even after the stream's retention limits removed it.
 */
import { connect, type ConsumerMessages, type NatsConnection } from 'nats';
import { toEntry, type StreamEntry } from './oracle.js';

/** A running tail; `entries` grows as messages arrive (one per stream sequence). */
export class StreamTail {
  readonly entries: StreamEntry[] = [];
  private readonly seqs = new Set<number>();
  private loop: Promise<void> = Promise.resolve();
  private messages: ConsumerMessages | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    readonly stream: string,
  ) {}

  /** Starts tailing `stream` (which must exist) from its first message. */
  static async start(servers: string[], stream: string): Promise<StreamTail> {
    const nc = await connect({ servers, name: 'net-sync-chaos-tail', noAsyncTraces: true, maxReconnectAttempts: -1 });
    const tail = new StreamTail(nc, stream);
    const consumer = await nc.jetstream().consumers.get(stream);
    tail.messages = await consumer.consume({ max_messages: 1_000 });
    tail.loop = (async () => {
      for await (const m of tail.messages!) {
        if (tail.seqs.has(m.seq)) continue;
        tail.seqs.add(m.seq);
        const headers: Record<string, string> = {};
        if (m.headers !== undefined) for (const [k, v] of m.headers) if (v[0] !== undefined) headers[k] = v[0];
        tail.entries.push(
          toEntry({
            stream: m.info.stream,
            seq: m.seq,
            msgId: headers['Nats-Msg-Id'],
            headers,
            data: m.data,
            timeMs: Math.floor(m.info.timestampNanos / 1e6),
          }),
        );
      }
    })();
    return tail;
  }

  /** The highest sequence seen. */
  get lastSeq(): number {
    let max = 0;
    for (const s of this.seqs) if (s > max) max = s;
    return max;
  }

  /** Sequences in 1..lastSeq the tail never saw (it fell behind retention, or the stream has gaps). */
  missingSeqs(upTo = this.lastSeq): number[] {
    const out: number[] = [];
    for (let s = 1; s <= upTo && out.length < 100; s++) if (!this.seqs.has(s)) out.push(s);
    return out;
  }

  /** The connection, for stream info. */
  get connection(): NatsConnection {
    return this.nc;
  }

  /** Stops the consumer and closes the connection. Safe twice. */
  async stop(): Promise<void> {
    this.messages?.stop();
    await this.loop.catch(() => undefined);
    if (!this.nc.isClosed()) await this.nc.close();
  }
}
