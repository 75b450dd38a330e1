/**
 * HTTP for hostile probes: raw bytes in, status and JSON out, over keep-alive connections of an
 * agent the caller owns (node:http, so Host, Origin and invalid bytes reach the server as sent),
 * and bare sockets for slow and idle clients.
 */
import { type Agent, request } from 'node:http';
import { connect } from 'node:net';

/** An answer: the status and the body parsed as JSON (null when it is not JSON). */
export interface RawAnswer {
  status: number;
  json: { error?: { code?: string; message?: string; field?: string }; correlationId?: string } | null;
}

/** Options of {@link sendRaw}. */
export interface RawRequest {
  port: number;
  agent: Agent;
  body: Uint8Array | string;
  path?: string;
  headers?: Record<string, string>;
}

/** POSTs `body` (content-type application/json unless given) and reads the whole answer. */
export function sendRaw(req: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: '127.0.0.1',
        port: req.port,
        path: req.path ?? '/v1/intents',
        method: 'POST',
        agent: req.agent,
        headers: { 'content-type': 'application/json', ...req.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: RawAnswer['json'] = null;
          try {
            json = JSON.parse(text) as RawAnswer['json'];
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** What a bare client saw: the first bytes the server sent (if any) and when the socket closed. */
export interface SocketOutcome {
  firstLine: string | null;
  closedAfterMs: number;
}

/**
 * Opens a socket, writes `chunks` one every `everyMs` (the first at once), and resolves when the
 * server closes it, or rejects after `giveUpMs`.
 */
export function slowClient(port: number, chunks: string[], everyMs: number, giveUpMs: number): Promise<SocketOutcome> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = connect(port, '127.0.0.1');
    let firstLine: string | null = null;
    let next = 0;
    const writer = setInterval(() => {
      if (next < chunks.length && s.writable) s.write(chunks[next++] as string);
    }, everyMs);
    const giveUp = setTimeout(() => {
      s.destroy();
      reject(new Error(`server kept the connection past ${giveUpMs} ms`));
    }, giveUpMs);
    s.on('connect', () => {
      if (next < chunks.length) s.write(chunks[next++] as string);
    });
    s.on('data', (d: Buffer) => {
      firstLine ??= d.toString('latin1').split('\r\n', 1)[0] ?? '';
    });
    s.on('error', () => undefined); // a reset is a close too
    s.on('close', () => {
      clearInterval(writer);
      clearTimeout(giveUp);
      resolve({ firstLine, closedAfterMs: performance.now() - t0 });
    });
  });
}
