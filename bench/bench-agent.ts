/**
 * The agent the inbox benchmark pushes to: a node:http server on loopback that answers 204 at
 * once and records when each command first arrived, by its `Net-Sync-Correlation-Id` header.
 * net-sync and the raw consumer are timed by this same receiver.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitUntil } from './common.js';

/** The stand-in agent; see the file comment. */
export class BenchAgent {
  /** `performance.now()` of each command's first arrival, by correlation ID. */
  readonly firstAt = new Map<string, number>();
  /**
   * The stream's time of each command (ms since epoch): net-sync's push body `publishedAt` when
   * bodies are read, else the raw consumer's `x-published-at-ms` header.
   */
  readonly publishedAt = new Map<string, number>();
  /** Requests received, duplicates included. */
  received = 0;
  /** Requests for a command that had already arrived. */
  duplicates = 0;
  /** Requests without a correlation ID header. */
  unnamed = 0;
  private server: Server | undefined;

  /** With `readBodies`, each body is parsed for `publishedAt` (net-sync's push body has it). */
  constructor(private readonly readBodies = false) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/commands`;
  }

  /** `performance.now()` at which the stream stored `id` (push body `publishedAt`), when bodies are read. */
  storedAt(id: string): number | undefined {
    const at = this.publishedAt.get(id);
    return at === undefined ? undefined : at - performance.timeOrigin;
  }

  /** Distinct commands received. */
  get count(): number {
    return this.firstAt.size;
  }

  /** Forgets everything received (between runs). */
  reset(): void {
    this.firstAt.clear();
    this.publishedAt.clear();
    this.received = 0;
    this.duplicates = 0;
    this.unnamed = 0;
  }

  /** Waits until `count` distinct commands arrived; throws after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number, what: string): Promise<void> {
    return waitUntil(
      `${what}: agent to receive ${count} commands (has ${this.count})`,
      () => this.count >= count,
      timeoutMs,
    );
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const id = req.headers['net-sync-correlation-id'];
      let body = '';
      if (this.readBodies) req.setEncoding('utf8').on('data', (c: string) => (body += c));
      else req.resume();
      req.on('end', () => {
        const stamp = req.headers['x-published-at-ms'];
        this.record(typeof id === 'string' ? id : undefined, performance.now(), body, Number(stamp));
        res.writeHead(204);
        res.end();
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private record(id: string | undefined, at: number, body: string, stampMs: number): void {
    this.received++;
    if (id === undefined) {
      this.unnamed++;
      return;
    }
    if (this.firstAt.has(id)) {
      this.duplicates++;
      return;
    }
    this.firstAt.set(id, at);
    const fromBody =
      body === '' ? Number.NaN : Date.parse(String((JSON.parse(body) as { publishedAt?: unknown }).publishedAt));
    const published = Number.isFinite(fromBody) ? fromBody : stampMs;
    if (Number.isFinite(published)) this.publishedAt.set(id, published);
  }
}
