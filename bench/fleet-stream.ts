/**
 * The fleet benchmark's view of JetStream: an ordered consumer on the COMMANDS stream that
 * records when each correlation ID was stored (the stream's own timestamp) and how many times,
 * and the raw baseline, a bare `js.publish` round trip on the same server.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumerMessages, NatsConnection } from 'nats';
import { commandsStreamConfig, quantile, RAW_SUBJECT, rawPayload } from './common.js';

/** Creates the COMMANDS stream exactly as the sidecars declare it (they find it in place). */
export async function ensureCommandsStream(nc: NatsConnection): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const cfg = commandsStreamConfig();
  await jsm.streams.add(cfg).catch(async () => jsm.streams.update(cfg.name, cfg));
}

/** Every message stored on one subject, by correlation ID (`Nats-Msg-Id`). */
export class StreamWatch {
  /** Wall-clock ms at which the stream stored each ID first. */
  readonly storedAt = new Map<string, number>();
  /** Messages stored per ID: 1 is exactly once. */
  readonly copies = new Map<string, number>();
  private readonly done: Promise<void>;

  private constructor(private readonly msgs: ConsumerMessages) {
    this.done = this.read();
  }

  /** Starts reading `subject` of COMMANDS from its first message. */
  static async start(nc: NatsConnection, subject: string): Promise<StreamWatch> {
    const consumer = await nc.jetstream().consumers.get('COMMANDS', { filterSubjects: subject, headers_only: true });
    return new StreamWatch(await consumer.consume());
  }

  /** Stream messages whose ID was stored more than once, counting each extra copy. */
  duplicates(): number {
    let n = 0;
    for (const c of this.copies.values()) n += c - 1;
    return n;
  }

  /** Stops the consumer (bounded: the iterator ends on stop). */
  async stop(): Promise<void> {
    this.msgs.stop();
    await Promise.race([this.done, sleep(5_000)]);
  }

  private async read(): Promise<void> {
    for await (const m of this.msgs) {
      const id = m.headers?.get('Nats-Msg-Id') ?? '';
      if (id === '') continue;
      this.copies.set(id, (this.copies.get(id) ?? 0) + 1);
      if (!this.storedAt.has(id)) this.storedAt.set(id, m.info.timestampNanos / 1e6);
    }
  }
}

/** The raw baseline of one run: open-loop `js.publish` (256 bytes, msgID) → PubAck. */
export interface RawNatsFigures {
  rate: number;
  count: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Publishes `rate`/s for `seconds` onto the raw subject (captured by COMMANDS), each at its
 * scheduled time whatever the earlier ones did; the round trip runs from that time to its PubAck.
 */
export async function rawNatsRoundTrip(nc: NatsConnection, rate: number, seconds: number): Promise<RawNatsFigures> {
  const js = nc.jetstream();
  const payload = rawPayload();
  const n = Math.max(1, Math.round(rate * seconds));
  const lat: number[] = [];
  const sends: Array<Promise<void>> = [];
  const t0 = performance.now() + 20;
  const tag = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  for (let i = 0; i < n; i++) {
    const at = t0 + (i * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 1) await sleep(wait);
    sends.push(
      js
        .publish(RAW_SUBJECT, payload, { msgID: `raw-${tag}-${i}`, timeout: 10_000 })
        .then(() => void lat.push(performance.now() - at))
        .catch(() => undefined),
    );
  }
  await Promise.all(sends);
  return { rate, count: lat.length, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99) };
}
