/**
 * A real HTTP agent for inbox tests: records every push it receives and answers by the
 * command's `payload.mode`: `ok` (204), `retry-once` (RETRY on the first delivery), `drop`
 * (DROP), `fail` (500 forever), `slow` (204 after `slowMs`), `hang` (never answers; `arrived`
 * records it). `hold()` makes it take some pushes up late, as an agent busy elsewhere does.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
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

/** A push as it comes in, for {@link TestAgent.hold}'s choice. */
export type IncomingPush = Pick<Received, 'correlationId' | 'mode' | 'deliveryCount'>;

/** The stand-in agent. */
export class TestAgent {
  /** Pushes answered. */
  readonly received: Received[] = [];
  /** Every push as it arrived, answered or not. */
  readonly arrived: Array<Pick<Received, 'correlationId' | 'mode' | 'deliveryCount' | 'arrivedAtMs'>> = [];
  private server: Server | undefined;
  // While hold() is on: which pushes wait, and the ones waiting to be taken up.
  private holding: { which: (p: IncomingPush) => boolean; waiting: Array<() => void> } | undefined;

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

  /**
   * From now on, pushes `which` selects are read but taken up (arrival recorded, applied,
   * answered) only at `release()`, as by an agent whose process is busy elsewhere; the others are
   * taken up at once. `held()` counts the pushes waiting.
   */
  hold(which: (p: IncomingPush) => boolean): { held: () => number; release: () => void } {
    const holding = { which, waiting: [] as Array<() => void> };
    this.holding = holding;
    return {
      held: () => holding.waiting.length,
      release: () => {
        if (this.holding === holding) this.holding = undefined;
        for (const takeUp of holding.waiting.splice(0)) takeUp();
      },
    };
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
        const incoming = { correlationId: m.correlationId, mode, deliveryCount: m.deliveryCount };
        if (this.holding?.which(incoming)) this.holding.waiting.push(() => this.takeUp(m, mode, res));
        else this.takeUp(m, mode, res);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  // Records the push and answers it as its mode says.
  private takeUp(
    m: { correlationId: string; deliveryCount: number; verified: boolean },
    mode: string,
    res: ServerResponse,
  ): void {
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
    if (mode === 'drop') answer(200, { status: 'DROP' });
    else if (mode === 'fail') answer(500);
    else if (mode === 'retry-once' && m.deliveryCount === 1) answer(200, { status: 'RETRY' });
    else if (mode === 'slow') setTimeout(() => answer(204, undefined, true), this.slowMs);
    else answer(204, undefined, true);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }
}
