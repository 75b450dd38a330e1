/**
 * Pushes a command to the agent's endpoint with Node's fetch: `POST <pushUrl>`, JSON body,
 * `Net-Sync-Correlation-Id` and `traceparent`. Every outcome is an {@link AgentAnswer} value.
 * Federation pushes received events through it too (`federation.pushUrl`): the body is any JSON
 * object.
 */
import type { AgentAnswer, AgentPusher, InboxCommand } from '../core/inbox.js';

/** Options of {@link HttpAgentPusher}. */
export interface HttpAgentPusherOptions {
  /** The agent's endpoint (config `inbox.pushUrl`). */
  url: string;
}

/** {@link AgentPusher} over HTTP. */
export class HttpAgentPusher implements AgentPusher {
  constructor(private readonly opts: HttpAgentPusherOptions) {}

  async push(
    command: InboxCommand | object,
    headers: Readonly<Record<string, string>>,
    signal: AbortSignal,
  ): Promise<AgentAnswer> {
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(command),
        signal,
      });
    } catch (err) {
      if (signal.aborted) return { kind: 'timeout' };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { kind: 'unreachable', reason: cause?.code ?? cause?.message ?? String(err) };
    }
    let body: unknown;
    try {
      const text = await res.text();
      body = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      if (signal.aborted) return { kind: 'timeout' };
      body = undefined; // an answer that is not JSON counts by its status alone
    }
    return { kind: 'response', status: res.status, body };
  }
}
