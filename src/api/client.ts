/**
 * A small typed client of the local HTTP API, on the platform `fetch` (Node 20, browsers):
 * propose an intent, read its state, answer an endorsement request, follow the SSE events.
 */
import { NetSyncError } from '../core/errors.js';
import type { FederationEventView } from '../core/federation-message.js';
import type { InboxCommand } from '../core/inbox.js';
import type { BatchAnswer } from '../core/intent-batch.js';
import type { IntentView } from './api-server.js';

/** Options of {@link NetSyncClient}. */
export interface NetSyncClientOptions {
  /** Base URL of the sidecar API. Default `http://127.0.0.1:7654`. */
  baseUrl?: string;
  /** Bearer token when `api.token` is set. */
  token?: string;
  /** A fetch implementation. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** One server-sent event: its name (`intent:committed`…) and its JSON data. */
export interface NetSyncEvent {
  event: string;
  data: unknown;
}

/** One command of `GET /v1/inbox`: the push body plus the delivery's ID, which its answer names. */
export type InboxMessage = InboxCommand & { deliveryId: string };

/** Typed access to one sidecar. Errors: INPUT_INVALID (4xx, `field` set) or INTERNAL (other). */
export class NetSyncClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: NetSyncClientOptions = {}) {
    this.base = (opts.baseUrl ?? 'http://127.0.0.1:7654').replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /**
   * `POST /v1/intents`: resolves once the sidecar stored it (202). With `idempotencyKey`, a retry
   * (here or on another sidecar of the mesh) answers with the same intent; another body under the
   * same key is refused (INPUT_INVALID, field `idempotency-key`).
   */
  async propose(
    subject: string,
    payload: unknown,
    signal?: AbortSignal,
    opts: { idempotencyKey?: string } = {},
  ): Promise<{ correlationId: string; state: string }> {
    const extra: Record<string, string> =
      opts.idempotencyKey === undefined ? {} : { 'idempotency-key': opts.idempotencyKey };
    return (await this.request('POST', '/v1/intents', { subject, payload }, signal, false, extra)) as {
      correlationId: string;
      state: string;
    };
  }

  /**
   * The batch form of `POST /v1/intents` (docs/contracts.md#batches): resolves once every accepted
   * item is stored (one transaction), with one result per item in request order, `{index,
   * correlationId, state}` or `{index, error: {code, field, message}}` (field `[i].subject`…);
   * `errors` is true when any item was refused (HTTP 207, else 202). Each item may carry its own
   * `idempotencyKey`. Throws (INPUT_INVALID) only for the batch as a whole: empty, over
   * `api.maxBatchItems` or `api.maxBatchBytes` (413).
   */
  async proposeBatch(
    items: ReadonlyArray<{ subject: string; payload: unknown; idempotencyKey?: string }>,
    signal?: AbortSignal,
  ): Promise<BatchAnswer> {
    return (await this.request('POST', '/v1/intents', items, signal)) as BatchAnswer;
  }

  /** `GET /v1/intents/:id`, or undefined when the sidecar does not know the ID. */
  async get(correlationId: string, signal?: AbortSignal): Promise<IntentView | undefined> {
    return (await this.request('GET', `/v1/intents/${encodeURIComponent(correlationId)}`, undefined, signal, true)) as
      | IntentView
      | undefined;
  }

  /** `POST /v1/intents/:id/endorsement` (agent policy). False when no request was pending. */
  async endorse(correlationId: string, endorse: boolean, signal?: AbortSignal): Promise<boolean> {
    const r = await this.request(
      'POST',
      `/v1/intents/${encodeURIComponent(correlationId)}/endorsement`,
      { endorse },
      signal,
      true,
    );
    return r !== undefined;
  }

  /**
   * `POST /v1/federation/events`: resolves once the sidecar signed and stored the event for
   * `partner` (202). With `idempotencyKey` a retry answers with the same event; another body
   * under the key is refused (INPUT_INVALID, field `idempotency-key`).
   */
  async sendFederationEvent(
    partner: string,
    type: string,
    payload: unknown,
    signal?: AbortSignal,
    opts: { idempotencyKey?: string } = {},
  ): Promise<{ eventId: string; state: string }> {
    const extra: Record<string, string> =
      opts.idempotencyKey === undefined ? {} : { 'idempotency-key': opts.idempotencyKey };
    return (await this.request('POST', '/v1/federation/events', { partner, type, payload }, signal, false, extra)) as {
      eventId: string;
      state: string;
    };
  }

  /** `GET /v1/federation/events/:id`, or undefined when the sidecar holds no such outgoing event. */
  async getFederationEvent(eventId: string, signal?: AbortSignal): Promise<FederationEventView | undefined> {
    const path = `/v1/federation/events/${encodeURIComponent(eventId)}`;
    return (await this.request('GET', path, undefined, signal, true)) as FederationEventView | undefined;
  }

  /** `GET /v1/inbox`: up to `max` commands, waiting at most `waitMs` for the first (pull mode). */
  async pullInbox(opts: { max?: number; waitMs?: number } = {}, signal?: AbortSignal): Promise<InboxMessage[]> {
    const q = new URLSearchParams();
    if (opts.max !== undefined) q.set('max', String(opts.max));
    if (opts.waitMs !== undefined) q.set('waitMs', String(opts.waitMs));
    const r = (await this.request('GET', `/v1/inbox?${q}`, undefined, signal)) as { messages: InboxMessage[] };
    return r.messages;
  }

  /** `POST /v1/inbox/:id/ack`: applied. False when the delivery is unknown or expired (404). */
  ackInbox(deliveryId: string, signal?: AbortSignal): Promise<boolean> {
    return this.inboxAnswer(deliveryId, 'ack', {}, signal);
  }

  /** `POST /v1/inbox/:id/nak`: deliver again, after `delayMs` (default: the inbox's backoff). */
  nakInbox(deliveryId: string, delayMs?: number, signal?: AbortSignal): Promise<boolean> {
    return this.inboxAnswer(deliveryId, 'nak', delayMs === undefined ? {} : { delayMs }, signal);
  }

  /** `POST /v1/inbox/:id/term`: never deliver again; one dead-letter notice. */
  termInbox(deliveryId: string, reason?: string, signal?: AbortSignal): Promise<boolean> {
    return this.inboxAnswer(deliveryId, 'term', reason === undefined ? {} : { reason }, signal);
  }

  /** `POST /v1/inbox/:id/working`: still working on it; restarts the ack wait. */
  workingInbox(deliveryId: string, signal?: AbortSignal): Promise<boolean> {
    return this.inboxAnswer(deliveryId, 'working', {}, signal);
  }

  private async inboxAnswer(id: string, verb: string, body: object, signal?: AbortSignal): Promise<boolean> {
    const path = `/v1/inbox/${encodeURIComponent(id)}/${verb}`;
    return (await this.request('POST', path, body, signal, true)) !== undefined;
  }

  /** `GET /v1/events` as an async iterable; ends when `signal` aborts or the server closes. */
  async *events(signal?: AbortSignal): AsyncIterable<NetSyncEvent> {
    const res = await this.fetchImpl(`${this.base}/v1/events`, {
      headers: this.headers(),
      ...(signal === undefined ? {} : { signal }),
    });
    if (!res.ok || res.body === null) throw new NetSyncError('INTERNAL', `GET /v1/events: HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const event = parseEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (event !== null) yield event;
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
  }

  private headers(json = false): Record<string, string> {
    return {
      ...(json ? { 'content-type': 'application/json' } : {}),
      ...(this.opts.token === undefined ? {} : { authorization: `Bearer ${this.opts.token}` }),
    };
  }

  private async request(
    method: string,
    path: string,
    body: unknown,
    signal?: AbortSignal,
    notFoundOk = false,
    extraHeaders: Record<string, string> = {},
  ): Promise<unknown> {
    const res = await this.fetchImpl(`${this.base}${path}`, {
      method,
      headers: { ...this.headers(body !== undefined), ...extraHeaders },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal === undefined ? {} : { signal }),
    });
    const json = (res.status === 204 ? {} : await res.json().catch(() => ({}))) as {
      error?: { message?: string; field?: string };
    };
    if (res.ok) return json;
    if (res.status === 404 && notFoundOk) return undefined;
    const message = `${method} ${path}: HTTP ${res.status} ${json.error?.message ?? ''}`.trim();
    if (res.status >= 400 && res.status < 500)
      throw new NetSyncError(
        'INPUT_INVALID',
        message,
        json.error?.field === undefined ? undefined : { field: json.error.field },
      );
    throw new NetSyncError('INTERNAL', message);
  }
}

function parseEvent(block: string): NetSyncEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (data.length === 0) return null;
  try {
    return { event, data: JSON.parse(data.join('\n')) };
  } catch {
    return { event, data: data.join('\n') };
  }
}
