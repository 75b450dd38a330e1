/**
 * `POST /v1/intents` and the API's error answers, apart from fastify: the route runs the same code
 * whether fastify dispatched it or the lean path below, which answers the plain case of this one
 * route straight from node:http (issue 15, step 4; docs/commit-path.md#the-http-path).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { NetSyncError } from '../core/errors.js';
import { checkIdempotencyKey } from '../core/idempotency.js';
import { type BatchAnswer, batchStatus } from '../core/intent-batch.js';
import { parseJsonBody } from '../core/json-body.js';
import type { Logger } from '../observability/logger.js';
import { endSpan, SpanKind, startSpan, traceparentOf } from '../observability/tracing.js';

/** A status and the JSON body that goes with it. */
export interface JsonAnswer {
  status: number;
  body: unknown;
}

/** The API's error body: a code, a message that starts with the field, and the field. */
export function errorBody(
  code: string,
  message: string,
  field?: string,
): { error: { code: string; message: string; field?: string } } {
  return { error: { code, message, ...(field === undefined ? {} : { field }) } };
}

/** What the intent route calls (a part of `ApiBackend`). */
export interface IntentRouteBackend {
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
}

/** The limits the route and the error answers name. */
export interface IntentRouteLimits {
  /** Body limit of the other routes (`api.maxPayloadBytes` × 4 + 64 KiB). */
  otherRoutesBodyLimit: number;
  /** Body limit of `POST /v1/intents`: the larger of one intent's and a batch's. */
  intentRouteLimit: number;
  /** `api.maxBatchBytes`. */
  maxBatchBytes: number;
}

/** `POST /v1/intents`, one intent or a batch, and the mapping of every error to its answer. */
export class IntentRoute {
  constructor(
    private readonly backend: IntentRouteBackend,
    private readonly limits: IntentRouteLimits,
    private readonly logger: Logger,
  ) {}

  /** Answers a parsed body of `bytes` bytes. Throws what {@link errorAnswer} maps. */
  async post(body: unknown, headers: IncomingHttpHeaders, bytes: number): Promise<JsonAnswer> {
    if (Array.isArray(body)) return this.postBatch(body, headers, bytes);
    const header = headers.traceparent;
    const tp = typeof header === 'string' ? header : undefined;
    // `intent.accept` continues the agent's trace; the row's traceparent becomes its child.
    const span = startSpan('intent.accept', tp, SpanKind.SERVER, {
      'http.request.method': 'POST',
      'http.route': '/v1/intents',
    });
    try {
      const keyHeader = headers['idempotency-key'];
      const key = keyHeader === undefined ? undefined : checkIdempotencyKey(keyHeader);
      const accepted = await this.backend.acceptIntent(body, traceparentOf(span) ?? tp, key);
      span.setAttribute('net_sync.correlation_id', accepted.correlationId);
      endSpan(span);
      return { status: 202, body: accepted };
    } catch (err) {
      endSpan(span, err instanceof NetSyncError ? err.code : 'INTERNAL');
      throw err;
    }
  }

  // The batch form: 202 when every item was accepted, 207 when any was refused.
  private async postBatch(items: unknown[], headers: IncomingHttpHeaders, bytes: number): Promise<JsonAnswer> {
    const { backend, limits } = this;
    if (headers['idempotency-key'] !== undefined)
      throw new NetSyncError(
        'INPUT_INVALID',
        'idempotency-key: a batch carries a key per item (its idempotencyKey field), not the header',
        { field: 'idempotency-key' },
      );
    if (bytes > limits.maxBatchBytes)
      throw new NetSyncError(
        'BATCH_TOO_LARGE',
        `body: the batch is ${bytes} bytes, over the limit of ${limits.maxBatchBytes} (api.maxBatchBytes); split it`,
        { field: 'body' },
      );
    if (backend.acceptIntents === undefined)
      return { status: 501, body: errorBody('NOT_IMPLEMENTED', 'batches are not enabled') };
    const header = headers.traceparent;
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
      return { status: batchStatus(answer), body: answer };
    } catch (err) {
      endSpan(span, err instanceof NetSyncError ? err.code : 'INTERNAL');
      throw err;
    }
  }

  /** The answer to an error of any route (`url`: the request's), logging what is not the client's fault. */
  errorAnswer(err: Error & { statusCode?: number; code?: string }, url: string): JsonAnswer {
    const answer = (status: number, code: string, message: string, field?: string): JsonAnswer => ({
      status,
      body: errorBody(code, message, field),
    });
    if (err instanceof NetSyncError && err.code === 'INPUT_INVALID')
      return answer(400, err.code, err.message, err.field);
    if (err instanceof NetSyncError && (err.code === 'PAYLOAD_TOO_LARGE' || err.code === 'BATCH_TOO_LARGE'))
      return answer(413, err.code, err.message, err.field);
    if (err instanceof NetSyncError && err.code === 'IDEMPOTENCY_CONFLICT')
      return answer(422, err.code, err.message, err.field);
    if (err instanceof NetSyncError && err.code === 'NOT_A_MEMBER')
      return answer(403, err.code, err.message, err.field);
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return answer(415, 'INPUT_INVALID', 'content-type: must be application/json', 'content-type');
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && url.split('?', 1)[0] === '/v1/intents') {
      // The intent route's limit is the larger of the payload limit (plus room for the subject) and the batch limit.
      const max = this.limits.intentRouteLimit;
      return answer(
        413,
        'PAYLOAD_TOO_LARGE',
        `payload: the request is larger than the limit of ${max} bytes (payloads.maxBytes for one intent, api.maxBatchBytes for a batch)`,
        'payload',
      );
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return answer(413, 'INPUT_INVALID', `body: larger than ${this.limits.otherRoutesBodyLimit} bytes`, 'body');
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)
      return answer(err.statusCode, 'INPUT_INVALID', `body: ${err.message}`, 'body');
    this.logger.error({ err }, 'api request failed');
    return answer(503, err instanceof NetSyncError ? err.code : 'INTERNAL', err.message);
  }
}

/** What the lean path asks the server before it takes a request. */
export interface LeanIntentGate {
  /** False while the server closes: fastify then answers 503 as for every other route. */
  open(): boolean;
  /** True when the request's Host, Origin and token pass; otherwise fastify refuses it. */
  admits(headers: IncomingHttpHeaders): boolean;
}

/**
 * The lean path of `POST /v1/intents`: takes the plain case (exactly that method and path, a
 * `Content-Type` of exactly `application/json`, a non-empty `Content-Length` body within the route's
 * limit, no `Transfer-Encoding`, Host, Origin and token accepted) and answers it from node:http with
 * {@link IntentRoute}, as fastify would: same status, same JSON body, same `content-type`. Every
 * other request is left to fastify (returns false) before a byte of its body is read, so the
 * refusals (403, 401, 413, 415, 400 for an empty body) stay fastify's.
 */
export function leanIntentHandler(
  route: IntentRoute,
  limits: IntentRouteLimits,
  gate: LeanIntentGate,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/intents') return false;
    const { headers } = req;
    const type = headers['content-type'];
    if (type !== 'application/json' && type !== 'application/json; charset=utf-8') return false;
    const length = headers['content-length'];
    if (length === undefined || headers['transfer-encoding'] !== undefined) return false;
    const declared = Number(length);
    if (!(declared > 0 && declared <= limits.intentRouteLimit)) return false;
    if (!gate.open() || !gate.admits(headers)) return false;
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      void answer(route, req, res, bytes);
    });
    return true;
  };
}

async function answer(route: IntentRoute, req: IncomingMessage, res: ServerResponse, bytes: Buffer): Promise<void> {
  let out: JsonAnswer;
  try {
    out = await route.post(parseJsonBody(bytes), req.headers, bytes.length);
  } catch (err) {
    out = route.errorAnswer(err as Error, '/v1/intents');
  }
  if (res.destroyed) return;
  const text = JSON.stringify(out.body);
  res.writeHead(out.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
