/**
 * A real HTTP agent for inbox tests: records every push it receives and answers by the
 * command's `payload.mode`: `ok` (204), `retry-once` (RETRY on the first delivery), `drop`
 * (DROP), `fail` (500 forever), `slow` (204 after `slowMs`), `hang` (never answers; `arrived`
 * records it).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One push as the agent saw it. */
export interface Received {
  correlationId: string;
  mode: string;
  deliveryCount: number;
  verified: boolean;
  /** When the push arrived, and when the agent answered it. */
  arrivedAtMs: number;
  atMs: number;
  /** What the agent answered: applied (SUCCESS) or not. */
  applied: boolean;
}

/** The stand-in agent. */
export class TestAgent {
  /** Pushes answered. */
  readonly received: Received[] = [];
  /** Every push as it arrived, answered or not. */
  readonly arrived: Array<Pick<Received, 'correlationId' | 'mode' | 'deliveryCount' | 'arrivedAtMs'>> = [];
  private server: Server | undefined;

  constructor(private readonly slowMs = 2_000) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/commands`;
  }

  /** Commands the agent applied, with how many times. */
  appliedCounts(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.received) if (r.applied) m.set(r.correlationId, (m.get(r.correlationId) ?? 0) + 1);
    return m;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const m = JSON.parse(body) as {
          correlationId: string;
          deliveryCount: number;
          verified: boolean;
          payload: { mode?: string };
        };
        const mode = m.payload?.mode ?? 'ok';
        const arrivedAtMs = Date.now();
        this.arrived.push({ correlationId: m.correlationId, mode, deliveryCount: m.deliveryCount, arrivedAtMs });
        if (mode === 'hang') return;
        const answer = (status: number, json?: unknown, applied = false): void => {
          this.received.push({
            correlationId: m.correlationId,
            mode,
            deliveryCount: m.deliveryCount,
            verified: m.verified,
            arrivedAtMs,
            atMs: Date.now(),
            applied,
          });
          res.writeHead(status, json === undefined ? {} : { 'content-type': 'application/json' });
          res.end(json === undefined ? undefined : JSON.stringify(json));
        };
        if (mode === 'drop') return answer(200, { status: 'DROP' });
        if (mode === 'fail') return answer(500);
        if (mode === 'retry-once' && m.deliveryCount === 1) return answer(200, { status: 'RETRY' });
        if (mode === 'slow') return void setTimeout(() => answer(204, undefined, true), this.slowMs);
        return answer(204, undefined, true);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }
}
