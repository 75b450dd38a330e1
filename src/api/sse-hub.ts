/**
 * Server-Sent Events fan-out for `GET /v1/events`. Each event is `event: <name>` plus a JSON
 * `data:` line; a comment line every 15 s keeps proxies from closing idle streams.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Fan-out of events to connected SSE clients. */
export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;

  /** Number of connected clients. */
  get size(): number {
    return this.clients.size;
  }

  /** Takes over a raw request/response pair as an SSE stream. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(': net-sync events\n\n');
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
    this.timer ??= setInterval(() => this.broadcastRaw(': ping\n\n'), 15_000).unref();
  }

  /** Sends one event to every client. */
  publish(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    this.broadcastRaw(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends every stream. */
  closeAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private broadcastRaw(text: string): void {
    for (const res of this.clients) res.write(text);
  }
}
