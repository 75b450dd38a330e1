/**
 * The local HTTP API (docs/contracts.md): intents, SSE events, health, readiness, metrics.
 * Loopback by default; an optional bearer token guards every route but /healthz.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { checkIdempotencyKey } from '../core/idempotency.js';
import { parseJsonBody } from '../core/json-body.js';
import type { Logger } from '../observability/logger.js';
import { type FederationBackend, registerFederationRoutes } from './federation-routes.js';
import { type InboxBackend, registerInboxRoutes } from './inbox-routes.js';
import {
  errorBody,
  IntentRoute,
  type IntentRouteBackend,
  type IntentRouteLimits,
  leanIntentHandler,
} from './intent-route.js';
import type { IntentView } from './intent-view.js';
import { SseHub } from './sse-hub.js';
import { renderStatusPage, renderUnauthorizedPage, type StatusPageModel } from './status-page.js';

export type { IntentView };

/** The use cases the API calls. Implemented in the composition root. */
export interface ApiBackend extends IntentRouteBackend {
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
  /** Set by stop(): the lean path leaves requests to fastify, which answers 503 while closing. */
  private closing = false;
  private readonly intents: IntentRoute;
  private readonly routeLimits: IntentRouteLimits;

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
    this.routeLimits = {
      otherRoutesBodyLimit: opts.maxPayloadBytes * 4 + 65_536,
      intentRouteLimit: this.intentRouteLimit,
      maxBatchBytes: this.maxBatchBytes,
    };
    this.intents = new IntentRoute(opts.backend, this.routeLimits, opts.logger);
    const lean = leanIntentHandler(this.intents, this.routeLimits, {
      open: () => !this.closing,
      admits: (headers) => this.admits(headers),
    });
    this.app = Fastify({
      logger: false,
      bodyLimit: this.routeLimits.otherRoutesBodyLimit,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // fastify's own server, as it would build it (lib/server.js), with the plain `POST /v1/intents`
      // answered first by the lean path (src/api/intent-route.ts); everything else goes to fastify.
      serverFactory: (handler) => {
        const server = createServer(
          { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: checkIntervalMs(limits) },
          (req, res) => {
            if (!lean(req, res)) handler(req, res);
          },
        );
        server.keepAliveTimeout = limits.keepAliveTimeoutMs;
        server.requestTimeout = limits.requestTimeoutMs;
        server.setTimeout(0);
        return server;
      },
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
    this.closing = true;
    this.events.closeAll();
    await this.app.close();
  }

  // Without a token, loopback is the only guard: a page on another origin, or under a name that
  // resolves to 127.0.0.1 (DNS rebinding), must not reach the API.
  private foreign(headers: IncomingHttpHeaders): string | null {
    if (this.opts.token !== undefined || this.anyHost) return null;
    const host = (headers.host ?? '').toLowerCase();
    const known = (h: string): boolean => this.hosts.has(h) || this.hosts.has(h.replace(/:\d+$/, ''));
    if (!known(host)) return `host: ${host || '(none)'} is not an address of this API (api.allowedHosts)`;
    const origin = headers.origin;
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

  // What authorize() lets through on a route other than / and /healthz, without answering.
  private admits(headers: IncomingHttpHeaders): boolean {
    if (this.foreign(headers) !== null) return false;
    const token = this.opts.token;
    return token === undefined || sameSecret(headers.authorization, `Bearer ${token}`);
  }

  private async authorize(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const refused = this.foreign(req.headers);
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
    const answer = this.intents.errorAnswer(err, url);
    void reply.code(answer.status).send(answer.body);
  }

  private get intentRouteLimit(): number {
    return Math.max(this.maxIntentPayloadBytes + 65_536, this.maxBatchBytes);
  }

  private routes(): void {
    const { backend } = this.opts;
    // The same route as the lean path's, for the requests that path leaves to fastify.
    this.app.post('/v1/intents', { bodyLimit: this.intentRouteLimit }, async (req, reply) => {
      const answer = await this.intents.post(req.body, req.headers, this.bodyBytes.get(req) ?? 0);
      return reply.code(answer.status).send(answer.body);
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
