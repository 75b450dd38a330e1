/**
 * Pushes a command to the agent's endpoint: `POST <pushUrl>`, JSON body,
 * `Net-Sync-Correlation-Id` and `traceparent`. Every outcome is an {@link AgentAnswer} value.
 * Federation pushes received events through it too (`federation.pushUrl`): the body is any JSON
 * object. With `node:http(s)` and kept-alive connections rather than `fetch`: a push through
 * `fetch` cost about three times the CPU (web streams, a WebAssembly parser), a large share of a
 * receiving sidecar's time (docs/benchmarks.md, row g). Idle connections do not hold the process.
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import type { AgentAnswer, AgentPusher, InboxCommand } from '../core/inbox.js';

/** Options of {@link HttpAgentPusher}. */
export interface HttpAgentPusherOptions {
  /** The agent's endpoint (config `inbox.pushUrl`). */
  url: string;
}

/** {@link AgentPusher} over HTTP. */
export class HttpAgentPusher implements AgentPusher {
  private readonly url: URL;
  private client: Promise<{ request: typeof httpRequest; agent: HttpAgent }> | undefined;

  constructor(opts: HttpAgentPusherOptions) {
    this.url = new URL(opts.url);
  }

  // node:https only when the URL asks for it, on the first push: loading it (TLS) made a sidecar's
  // start seconds slower on a loaded machine.
  private transport(): Promise<{ request: typeof httpRequest; agent: HttpAgent }> {
    this.client ??=
      this.url.protocol === 'https:'
        ? import('node:https').then((m) => ({ request: m.request, agent: new m.Agent({ keepAlive: true }) }))
        : Promise.resolve({ request: httpRequest, agent: new HttpAgent({ keepAlive: true }) });
    return this.client;
  }

  async push(
    command: InboxCommand | object,
    headers: Readonly<Record<string, string>>,
    signal: AbortSignal,
  ): Promise<AgentAnswer> {
    const body = Buffer.from(JSON.stringify(command));
    const { request, agent } = await this.transport();
    return new Promise<AgentAnswer>((resolve) => {
      let done = false;
      const answer = (a: AgentAnswer): void => {
        if (done) return;
        done = true;
        resolve(a);
      };
      if (signal.aborted) return answer({ kind: 'timeout' });
      const req = request(this.url, {
        method: 'POST',
        agent,
        signal,
        headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers },
      });
      req.on('error', (err: NodeJS.ErrnoException) =>
        answer(signal.aborted ? { kind: 'timeout' } : { kind: 'unreachable', reason: err.code ?? err.message }),
      );
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        // An answer cut short counts by its status alone, as one that is not JSON.
        res.on('error', () =>
          answer(signal.aborted ? { kind: 'timeout' } : { kind: 'response', status, body: undefined }),
        );
        res.on('end', () => answer({ kind: 'response', status, body: parseBody(chunks) }));
        res.on('close', () =>
          answer(signal.aborted ? { kind: 'timeout' } : { kind: 'response', status, body: undefined }),
        );
      });
      req.end(body);
    });
  }
}

function parseBody(chunks: readonly Buffer[]): unknown {
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // an answer that is not JSON counts by its status alone
  }
}
