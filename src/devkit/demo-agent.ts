/**
 * The demo's stand-in agent: a tiny HTTP server on 127.0.0.1 that takes the inbox's pushes,
 * remembers each one and answers `{"status":"SUCCESS"}` (Dapr's convention, docs/inbox.md).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One push the agent received. */
export interface DemoDelivery {
  correlationId: string;
  subject: string;
  streamSeq: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
  /** Whether the sidecar checked the endorsements before the push. */
  verified: boolean;
  /** Ms since epoch the push arrived. */
  atMs: number;
}

/** Longest push body read, bytes: the demo's commands are a few hundred. */
const MAX_BODY_BYTES = 1_048_576;

/** The agent beside the inbox sidecar; `start()` binds it on an ephemeral port. */
export class DemoAgent {
  readonly received: DemoDelivery[] = [];
  private server: Server | undefined;

  /** Starts listening on 127.0.0.1:0. */
  static async start(): Promise<DemoAgent> {
    const agent = new DemoAgent();
    agent.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY_BYTES) chunks.push(c);
      });
      req.on('end', () => {
        const d = agent.record(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(d === null ? 400 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(d === null ? { status: 'DROP' } : { status: 'SUCCESS' }));
      });
    });
    const server = agent.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return agent;
  }

  /** Where the inbox pushes (`inbox.pushUrl`). */
  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/commands`;
  }

  /** Pushes received for `correlationId`. */
  deliveriesOf(correlationId: string): DemoDelivery[] {
    return this.received.filter((d) => d.correlationId === correlationId);
  }

  /** Closes the server and its connections. Safe twice. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // A body that is not an inbox command is answered DROP, and not recorded.
  private record(text: string): DemoDelivery | null {
    try {
      const c = JSON.parse(text) as Partial<DemoDelivery>;
      if (typeof c.correlationId !== 'string') return null;
      const d: DemoDelivery = {
        correlationId: c.correlationId,
        subject: String(c.subject),
        streamSeq: Number(c.streamSeq),
        deliveryCount: Number(c.deliveryCount),
        verified: c.verified === true,
        atMs: Date.now(),
      };
      this.received.push(d);
      return d;
    } catch {
      return null;
    }
  }
}
