/**
 * The local HTTP API (docs/contracts.md): intents, SSE events, health, readiness, metrics.
 * Loopback by default; an optional bearer token guards every route but /healthz.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { NetSyncError } from '../core/errors.js';
import { checkIdempotencyKey } from '../core/idempotency.js';
import { batchStatus, type BatchAnswer } from '../core/intent-batch.js';
import { parseJsonBody } from '../core/json-body.js';
import type { Logger } from '../observability/logger.js';
import { endSpan, SpanKind, startSpan, traceparentOf } from '../observability/tracing.js';
import { type FederationBackend, registerFederationRoutes } from './federation-routes.js';
import { type InboxBackend, registerInboxRoutes } from './inbox-routes.js';
import type { IntentView } from './intent-view.js';
import { SseHub } from './sse-hub.js';
import { renderStatusPage, renderUnauthorizedPage, type StatusPageModel } from './status-page.js';

export type { IntentView };

/** The use cases the API calls. Implemented in the composition root. */
export interface ApiBackend {
  /** Validates and durably accepts; throws INPUT_INVALID naming the field. */
  acceptIntent(
    body: unknown,
    traceparent: string | undefined,
    idempotencyKey?: string,
  ): Promise<{ correlationId: string; state: string }>;
  /**
   * The batch form (docs/contracts.md#batches): every item validated, the valid ones durable in one
   * transaction, one result per item in request order. Throws only for the batch as a whole.
   */
  acceptIntents?(items: readonly unknown[], traceparent: string | undefined): Promise<BatchAnswer>;
  /** The intent named by an `Idempotency-Key`, if this node holds it. */
  getIntentByKey?(idempotencyKey: string): IntentView | undefined;
  getIntent(correlationId: string): IntentView | undefined;
  /** Validates and accepts telemetry points; throws INPUT_INVALID naming the field. */
  acceptTelemetry?(body: unknown): Promise<{ accepted: number }>;
  /**
   * The local agent's answer to an `intent:endorsement-requested` event (`consensus.policy:
   * agent`). False when no request is pending for that ID (answered, timed out, or unknown).
   */
  answerEndorsement?(correlationId: string, endorse: boolean): boolean;
  /** The inbox's pull API; absent: the inbox is off. */
  inbox?: InboxBackend;
  /** Federation's events API; absent: federation is off (501). */
  federation?: FederationBackend;
  /** Readiness with the reason of each failing check. */
  readiness(): { ready: boolean; checks: Record<string, boolean | string> };
  /** Prometheus text exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** A JSON status snapshot for `net-sync status`. */
  status(): Promise<unknown>;
  /** What the status page at `GET /` shows; absent: no page (404). */
  statusPage?(): Promise<StatusPageModel>;
}

/** Options of the API server. */
export interface ApiServerOptions {
  listen: string;
  token?: string;
  /** Host names (or host:port) answered besides loopback and the listen address (config `api.allowedHosts`). */
  allowedHosts?: readonly string[];
  /** Largest federation event payload (`api.maxPayloadBytes`): sizes the body limit of the other routes. */
  maxPayloadBytes: number;
  /**
   * Largest intent payload (`payloads.maxBytes`): `POST /v1/intents` takes a body up to this plus
   * 64 KiB, and a larger one gets 413 naming `payload`. Default `maxPayloadBytes`.
   */
  maxIntentPayloadBytes?: number;
  /** Largest batch body (`api.maxBatchBytes`), bytes; a larger one gets 413 naming the key. Default 4 MiB. */
  maxBatchBytes?: number;
  /** Connection limits (config `api.*`); each bounds what a slow, idle or flooding client can hold. */
  limits: ApiConnectionLimits;
  backend: ApiBackend;
  logger: Logger;
}

/** How long a client may take and how many connections it may hold (config `api.*`). */
export interface ApiConnectionLimits {
  /** Time to receive a request's headers, from the connection's first byte wait, ms. */
  headersTimeoutMs: number;
  /** Time to receive a whole request (headers and body), ms; at least `headersTimeoutMs`. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests, ms. */
  keepAliveTimeoutMs: number;
  /** Open connections at once; past it a new connection is closed at once, unanswered. */
  maxConnections: number;
}

// How often Node looks for requests past their timeout (its default, 30 s, let idle
// connections live 30 s past the bound): a quarter of the headers timeout, at most 1 s.
function checkIntervalMs(limits: ApiConnectionLimits): number {
  return Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4)));
}

/** Constant-time comparison of a presented secret with the expected one. */
function sameSecret(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const digest = (v: string): Buffer => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function errorBody(
  code: string,
  message: string,
  field?: string,
): { error: { code: string; message: string; field?: string } } {
  return { error: { code, message, ...(field === undefined ? {} : { field }) } };
}

const DEFAULT_MAX_BATCH_BYTES = 4 * 1_024 * 1_024;

/** The HTTP API. start() binds, stop() closes SSE streams and the listener (safe twice). */
export class ApiServer {
  readonly events = new SseHub();
  private readonly app: FastifyInstance;
  private address: string | null = null;
  /** `host:port` values a request may name (Host, Origin) when there is no token. */
  private hosts = new Set<string>();
  /** Bound to every interface with no allow-list: names cannot be known, so Host is not checked. */
  private anyHost = false;

  /** Bytes of each parsed JSON body, for the batch limit. */
  private readonly bodyBytes = new WeakMap<FastifyRequest, number>();

  private get maxIntentPayloadBytes(): number {
    return this.opts.maxIntentPayloadBytes ?? this.opts.maxPayloadBytes;
  }

  private get maxBatchBytes(): number {
    return this.opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  }

  constructor(private readonly opts: ApiServerOptions) {
    // Our own payload check (400 naming `payload`) must fire before the transport limit.
    const { limits } = opts;
    this.app = Fastify({
      logger: false,
      bodyLimit: opts.maxPayloadBytes * 4 + 65_536,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: checkIntervalMs(limits) },
    });
    this.app.server.maxConnections = limits.maxConnections;
    this.app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) =>
      this.onError(err, reply, req.url),
    );
    this.app.setNotFoundHandler((req, reply) =>
      reply.code(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url.split('?', 1)[0]}`)),
    );
    // Bodies must say `application/json`: the types a browser may send cross-origin without a
    // CORS preflight (text/plain, forms) are refused with 415, so no web page can post intents.
    this.app.removeContentTypeParser('text/plain');
    // Our own JSON parser: invalid UTF-8, numbers a double cannot hold and prototype keys are
    // refused naming the field, where the default one altered the first two silently.
    this.app.removeContentTypeParser('application/json');
    this.app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
      try {
        this.bodyBytes.set(req, (body as Buffer).length);
        done(null, parseJsonBody(body as Buffer));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    this.app.addHook('onRequest', async (req, reply) => this.authorize(req, reply));
    this.routes();
  }

  /** The bound `host:port` once started. */
  get boundAddress(): string | null {
    return this.address;
  }

  async start(): Promise<void> {
    const idx = this.opts.listen.lastIndexOf(':');
    const host = this.opts.listen.slice(0, idx).replace(/^\[|\]$/g, '');
    const port = Number(this.opts.listen.slice(idx + 1));
    await this.app.listen({ host, port });
    const addr = this.app.server.address();
    this.address = typeof addr === 'object' && addr !== null ? `${host}:${addr.port}` : this.opts.listen;
    const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
    const names = ['localhost', '127.0.0.1', '[::1]', host.includes(':') ? `[${host}]` : host];
    this.hosts = new Set([
      ...names.map((n) => `${n}:${bound}`.toLowerCase()),
      ...(this.opts.allowedHosts ?? []).map((h) => h.toLowerCase()),
    ]);
    this.anyHost = (host === '0.0.0.0' || host === '::') && (this.opts.allowedHosts ?? []).length === 0;
  }

  async stop(): Promise<void> {
    if (this.address === null) return;
    this.address = null;
    this.events.closeAll();
    await this.app.close();
  }

  // Without a token, loopback is the only guard: a page on another origin, or under a name that
  // resolves to 127.0.0.1 (DNS rebinding), must not reach the API.
  private foreign(req: FastifyRequest): string | null {
    if (this.opts.token !== undefined || this.anyHost) return null;
    const host = (req.headers.host ?? '').toLowerCase();
    const known = (h: string): boolean => this.hosts.has(h) || this.hosts.has(h.replace(/:\d+$/, ''));
    if (!known(host)) return `host: ${host || '(none)'} is not an address of this API (api.allowedHosts)`;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let o: URL | undefined;
      try {
        o = new URL(origin);
      } catch {
        o = undefined;
      }
      const port = o?.port || (o?.protocol === 'https:' ? '443' : '80');
      if (o === undefined || !known(`${o.hostname}:${port}`.toLowerCase()))
        return `origin: ${origin} is not this API's origin`;
    }
    return null;
  }

  private async authorize(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const refused = this.foreign(req);
    if (refused !== null) {
      await reply.code(403).send(errorBody('FORBIDDEN', refused, refused.split(':', 1)[0]));
      return;
    }
    const token = this.opts.token;
    const path = req.url.split('?', 1)[0];
    if (token === undefined || path === '/healthz') return;
    if (sameSecret(req.headers.authorization, `Bearer ${token}`)) return;
    // A browser cannot send the header on a plain visit: the page alone also takes `?token=`.
    if (path === '/') {
      if (sameSecret((req.query as { token?: unknown } | undefined)?.token, token)) return;
      await reply.code(401).type('text/html; charset=utf-8').send(renderUnauthorizedPage());
      return;
    }
    await reply.code(401).send(errorBody('UNAUTHORIZED', 'missing or wrong bearer token', 'authorization'));
  }

  private onError(err: Error & { statusCode?: number; code?: string }, reply: FastifyReply, url = ''): void {
    if (err instanceof NetSyncError && err.code === 'INPUT_INVALID') {
      void reply.code(400).send(errorBody(err.code, err.message, err.field));
    } else if (err instanceof NetSyncError && (err.code === 'PAYLOAD_TOO_LARGE' || err.code === 'BATCH_TOO_LARGE')) {
      void reply.code(413).send(errorBody(err.code, err.message, err.field));
    } else if (err instanceof NetSyncError && err.code === 'IDEMPOTENCY_CONFLICT') {
      void reply.code(422).send(errorBody(err.code, err.message, err.field));
    } else if (err instanceof NetSyncError && err.code === 'NOT_A_MEMBER') {
      void reply.code(403).send(errorBody(err.code, err.message, err.field));
    } else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      void reply.code(415).send(errorBody('INPUT_INVALID', 'content-type: must be application/json', 'content-type'));
    } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && url.split('?', 1)[0] === '/v1/intents') {
      // The intent route's limit is the larger of the payload limit (plus room for the subject) and the batch limit.
      const max = this.intentRouteLimit;
      void reply
        .code(413)
        .send(
          errorBody(
            'PAYLOAD_TOO_LARGE',
            `payload: the request is larger than the limit of ${max} bytes (payloads.maxBytes for one intent, api.maxBatchBytes for a batch)`,
            'payload',
          ),
        );
    } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      void reply
        .code(413)
        .send(errorBody('INPUT_INVALID', `body: larger than ${this.opts.maxPayloadBytes * 4 + 65_536} bytes`, 'body'));
    } else if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      void reply.code(err.statusCode).send(errorBody('INPUT_INVALID', `body: ${err.message}`, 'body'));
    } else {
      this.opts.logger.error({ err }, 'api request failed');
      const code = err instanceof NetSyncError ? err.code : 'INTERNAL';
      void reply.code(503).send(errorBody(code, err.message));
    }
  }

  private get intentRouteLimit(): number {
    return Math.max(this.maxIntentPayloadBytes + 65_536, this.maxBatchBytes);
  }

  // The batch form of POST /v1/intents: 202 when every item was accepted, 207 when any was refused.
  private async acceptBatch(req: FastifyRequest, reply: FastifyReply, items: unknown[]): Promise<FastifyReply> {
    const { backend } = this.opts;
    if (req.headers['idempotency-key'] !== undefined)
      throw new NetSyncError(
        'INPUT_INVALID',
        'idempotency-key: a batch carries a key per item (its idempotencyKey field), not the header',
        { field: 'idempotency-key' },
      );
    const bytes = this.bodyBytes.get(req) ?? 0;
    if (bytes > this.maxBatchBytes)
      throw new NetSyncError(
        'BATCH_TOO_LARGE',
        `body: the batch is ${bytes} bytes, over the limit of ${this.maxBatchBytes} (api.maxBatchBytes); split it`,
        { field: 'body' },
      );
    if (backend.acceptIntents === undefined)
      return reply.code(501).send(errorBody('NOT_IMPLEMENTED', 'batches are not enabled'));
    const header = req.headers.traceparent;
    const tp = typeof header === 'string' ? header : undefined;
    const span = startSpan('intent.accept', tp, SpanKind.SERVER, {
      'http.request.method': 'POST',
      'http.route': '/v1/intents',
      'net_sync.batch.size': items.length,
    });
    try {
      const answer = await backend.acceptIntents(items, traceparentOf(span) ?? tp);
      span.setAttribute('net_sync.batch.refused', answer.refused);
      endSpan(span);
      return reply.code(batchStatus(answer)).send(answer);
    } catch (err) {
      endSpan(span, err instanceof NetSyncError ? err.code : 'INTERNAL');
      throw err;
    }
  }

  private routes(): void {
    const { backend } = this.opts;
    this.app.post('/v1/intents', { bodyLimit: this.intentRouteLimit }, async (req, reply) => {
      if (Array.isArray(req.body)) return this.acceptBatch(req, reply, req.body);
      const header = req.headers.traceparent;
      const tp = typeof header === 'string' ? header : undefined;
      // `intent.accept` continues the agent's trace; the row's traceparent becomes its child.
      const span = startSpan('intent.accept', tp, SpanKind.SERVER, {
        'http.request.method': 'POST',
        'http.route': '/v1/intents',
      });
      try {
        const keyHeader = req.headers['idempotency-key'];
        const key = keyHeader === undefined ? undefined : checkIdempotencyKey(keyHeader);
        const accepted = await backend.acceptIntent(req.body, traceparentOf(span) ?? tp, key);
        span.setAttribute('net_sync.correlation_id', accepted.correlationId);
        endSpan(span);
        return reply.code(202).send(accepted);
      } catch (err) {
        endSpan(span, err instanceof NetSyncError ? err.code : 'INTERNAL');
        throw err;
      }
    });
    this.app.get<{ Querystring: { idempotencyKey?: string } }>('/v1/intents', async (req, reply) => {
      const key = checkIdempotencyKey(req.query.idempotencyKey);
      const view = backend.getIntentByKey?.(key);
      if (view === undefined)
        return reply
          .code(404)
          .send(errorBody('NOT_FOUND', 'idempotency-key: no intent holds this key here', 'idempotency-key'));
      return view;
    });
    this.app.get<{ Params: { id: string } }>('/v1/intents/:id', async (req, reply) => {
      const view = backend.getIntent(req.params.id);
      if (view === undefined)
        return reply
          .code(404)
          .send(errorBody('NOT_FOUND', `correlationId: no intent ${req.params.id}`, 'correlationId'));
      return view;
    });
    this.app.post<{ Params: { id: string } }>('/v1/intents/:id/endorsement', async (req, reply) => {
      const body = req.body as { endorse?: unknown } | null;
      if (typeof body !== 'object' || body === null || typeof body.endorse !== 'boolean') {
        return reply.code(400).send(errorBody('INPUT_INVALID', 'endorse: must be true or false', 'endorse'));
      }
      if (backend.answerEndorsement === undefined)
        return reply.code(501).send(errorBody('NOT_IMPLEMENTED', 'consensus is not enabled'));
      if (!backend.answerEndorsement(req.params.id, body.endorse)) {
        return reply
          .code(404)
          .send(
            errorBody(
              'NOT_FOUND',
              `correlationId: no endorsement request pending for ${req.params.id}`,
              'correlationId',
            ),
          );
      }
      return reply.code(200).send({ correlationId: req.params.id, endorse: body.endorse });
    });
    this.app.post('/v1/telemetry', async (req, reply) => {
      if (backend.acceptTelemetry === undefined)
        return reply.code(501).send(errorBody('NOT_IMPLEMENTED', 'telemetry is not enabled'));
      return reply.code(202).send(await backend.acceptTelemetry(req.body));
    });
    this.app.get('/v1/events', (req, reply) => {
      reply.hijack();
      this.events.attach(req.raw, reply.raw);
    });
    this.app.get('/v1/status', async () => backend.status());
    registerInboxRoutes(this.app, backend.inbox, errorBody);
    registerFederationRoutes(this.app, backend.federation, errorBody);
    this.app.get('/', async (_req, reply) => {
      if (backend.statusPage === undefined) return reply.code(404).send(errorBody('NOT_FOUND', 'no status page'));
      const html = renderStatusPage(await backend.statusPage());
      return reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(html);
    });
    this.app.get('/healthz', async () => ({ ok: true }));
    this.app.get('/readyz', async (_req, reply) => {
      const r = backend.readiness();
      return reply.code(r.ready ? 200 : 503).send(r);
    });
    this.app.get('/metrics', async (_req, reply) => {
      const m = await backend.metrics();
      return reply.header('content-type', m.contentType).send(m.body);
    });
  }
}
