/**
 * Reads a stream back for oracles: every message on `subject` with its Nats-Msg-Id, headers
 * and body, through the real reader.
 */
import { ConfigSchema } from '../../src/config/schema.js';
import { JetStreamReader, NatsConnector, type ScannedMessage } from '../../src/nats/index.js';

export interface StreamContents {
  messages: ScannedMessage[];
  /** Copies per Nats-Msg-Id. */
  idCounts: Map<string, number>;
}

export async function readStream(
  natsUrl: string,
  subject = 'root.solar.command.>',
  auth: { user?: string; pass?: string } = {},
): Promise<StreamContents> {
  const config = ConfigSchema.parse({ nats: { servers: [natsUrl], ...auth } });
  const connector = new NatsConnector({ config: config.nats });
  await connector.start();
  try {
    await connector.waitConnected(10_000);
    const reader = new JetStreamReader({ connector });
    const messages: ScannedMessage[] = [];
    for await (const m of reader.scanAll(subject, 0)) messages.push(m);
    const idCounts = new Map<string, number>();
    for (const m of messages) idCounts.set(m.msgId ?? '', (idCounts.get(m.msgId ?? '') ?? 0) + 1);
    return { messages, idCounts };
  } finally {
    await connector.stop();
  }
}

/** The body of a 202 answer to `POST /v1/intents`. */
export interface Accepted {
  correlationId: string;
  state: string;
}

/**
 * One answer of {@link postMany}: `json` is {@link Accepted} on a 202 (check `status` first), or
 * the request failed.
 */
export type PostAnswer = { status: number; json: Accepted } | { error: string };

/** Posts `n` bodies with at most `concurrency` requests in flight; returns the 202 answers in order. */
export async function postMany(url: string, bodies: unknown[], concurrency = 64): Promise<PostAnswer[]> {
  const out: PostAnswer[] = new Array(bodies.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const i = next++;
      try {
        const res = await fetch(`${url}/v1/intents`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(bodies[i]),
        });
        out[i] = { status: res.status, json: (await res.json()) as Accepted };
      } catch (err) {
        out[i] = { error: String(err) };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}
