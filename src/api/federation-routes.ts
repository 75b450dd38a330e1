/**
 * Federation's API (docs/federation.md): `POST /v1/federation/events` signs and accepts an event
 * for a partner (with an optional `Idempotency-Key`, as `POST /v1/intents`),
 * `GET /v1/federation/events/:id` shows one (with its receipt), and `GET /v1/federation/partners`
 * the ledger per partner. Both answer 501 while federation is off.
 */
import type { FastifyInstance } from 'fastify';
import { NetSyncError } from '../core/errors.js';
import type { FederationEventView } from '../core/federation-message.js';
import type { FederationStatus } from '../core/federation-receipt.js';
import { checkIdempotencyKey } from '../core/idempotency.js';
import { endSpan, SpanKind, startSpan, traceparentOf } from '../observability/tracing.js';

/** What federation's routes call (the federation use case). */
export interface FederationBackend {
  /** Validates, signs and durably accepts; throws INPUT_INVALID naming the field. */
  acceptEvent(
    body: unknown,
    traceparent: string | undefined,
    idempotencyKey?: string,
  ): Promise<{ eventId: string; state: string }>;
  /** An outgoing event held here, or undefined. */
  getEvent(eventId: string): FederationEventView | undefined;
  /** The ledger per partner (all partners, or the one named), gaps and rejected events. */
  partners?(partner?: string): FederationStatus;
}

type ErrorBody = (code: string, message: string, field?: string) => unknown;

/** Registers the routes; `backend` undefined: federation is off. */
export function registerFederationRoutes(
  app: FastifyInstance,
  backend: FederationBackend | undefined,
  errorBody: ErrorBody,
): void {
  const off = errorBody('NOT_IMPLEMENTED', 'federation is not enabled (federation.name unset, or consensus on)');
  app.post('/v1/federation/events', async (req, reply) => {
    if (backend === undefined) return reply.code(501).send(off);
    const header = req.headers.traceparent;
    const tp = typeof header === 'string' ? header : undefined;
    const span = startSpan('federation.accept', tp, SpanKind.SERVER, {
      'http.request.method': 'POST',
      'http.route': '/v1/federation/events',
    });
    try {
      const keyHeader = req.headers['idempotency-key'];
      const key = keyHeader === undefined ? undefined : checkIdempotencyKey(keyHeader);
      const accepted = await backend.acceptEvent(req.body, traceparentOf(span) ?? tp, key);
      span.setAttribute('net_sync.correlation_id', accepted.eventId);
      endSpan(span);
      return reply.code(202).send(accepted);
    } catch (err) {
      endSpan(span, err instanceof NetSyncError ? err.code : 'INTERNAL');
      throw err;
    }
  });
  app.get<{ Params: { id: string } }>('/v1/federation/events/:id', async (req, reply) => {
    if (backend === undefined) return reply.code(501).send(off);
    const view = backend.getEvent(req.params.id);
    if (view === undefined)
      return reply.code(404).send(errorBody('NOT_FOUND', `eventId: no outgoing event ${req.params.id}`, 'eventId'));
    return view;
  });
  app.get<{ Querystring: { partner?: string } }>('/v1/federation/partners', async (req, reply) => {
    if (backend?.partners === undefined) return reply.code(501).send(off);
    const partner = typeof req.query.partner === 'string' ? req.query.partner : undefined;
    const status = backend.partners(partner);
    if (partner !== undefined && status.partners.length === 0)
      return reply
        .code(404)
        .send(errorBody('NOT_FOUND', `partner: no partner ${partner} in federation.partners`, 'partner'));
    return status;
  });
}
