/**
 * The inbox's pull API: `GET /v1/inbox?max=&waitMs=` hands out commands, and the agent answers
 * each by delivery ID with `ack`, `nak` (`{delayMs?}`), `term` (`{reason?}`) or `working`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { NetSyncError } from '../core/errors.js';

/** What the pull API calls (the inbox use case). */
export interface InboxBackend {
  /** `push` or `pull`: the pull API answers only in pull mode. */
  readonly mode: 'push' | 'pull';
  pull(max: number, waitMs: number): Promise<unknown[]>;
  answer(
    deliveryId: string,
    verdict: 'ack' | 'retry' | 'drop',
    opts: { delayMs?: number; reason?: string },
  ): Promise<boolean>;
  working(deliveryId: string): boolean;
}

/** Largest `max` of one pull. */
export const INBOX_MAX_BATCH = 1_000;
/** Longest `waitMs` of one pull. */
export const INBOX_MAX_WAIT_MS = 60_000;

type ErrorBody = (code: string, message: string, field?: string) => unknown;

function intParam(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : typeof value === 'number' ? value : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new NetSyncError('INPUT_INVALID', `${name}: must be an integer from ${min} to ${max}`, { field: name });
  }
  return n;
}

function optionalBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new NetSyncError('INPUT_INVALID', 'body: must be a JSON object', { field: 'body' });
  }
  return body as Record<string, unknown>;
}

/** Registers the inbox routes; `inbox` undefined: the inbox is off and they answer 404. */
export function registerInboxRoutes(app: FastifyInstance, inbox: InboxBackend | undefined, errorBody: ErrorBody): void {
  const unavailable = (reply: FastifyReply): FastifyReply | undefined => {
    if (inbox === undefined)
      return reply.code(404).send(errorBody('NOT_FOUND', 'inbox is off: inbox.subjects is empty'));
    if (inbox.mode === 'push')
      return reply.code(409).send(errorBody('CONFLICT', 'inbox is in push mode (inbox.pushUrl is set)'));
    return undefined;
  };
  const notFound = (reply: FastifyReply, id: string): FastifyReply =>
    reply
      .code(404)
      .send(errorBody('NOT_FOUND', `deliveryId: no open delivery ${id} (answered or expired)`, 'deliveryId'));

  app.get<{ Querystring: { max?: string; waitMs?: string } }>('/v1/inbox', async (req, reply) => {
    const refused = unavailable(reply);
    if (refused !== undefined) return refused;
    const max = intParam(req.query.max, 'max', 1, 1, INBOX_MAX_BATCH);
    const waitMs = intParam(req.query.waitMs, 'waitMs', 0, 0, INBOX_MAX_WAIT_MS);
    return { messages: await inbox!.pull(max, waitMs) };
  });
  app.post<{ Params: { id: string } }>('/v1/inbox/:id/ack', async (req, reply) => {
    const refused = unavailable(reply);
    if (refused !== undefined) return refused;
    if (!(await inbox!.answer(req.params.id, 'ack', {}))) return notFound(reply, req.params.id);
    return reply.code(204).send();
  });
  app.post<{ Params: { id: string } }>('/v1/inbox/:id/nak', async (req, reply) => {
    const refused = unavailable(reply);
    if (refused !== undefined) return refused;
    const body = optionalBody(req.body);
    const delayMs = intParam(body['delayMs'], 'delayMs', -1, 0, 24 * 3_600_000);
    const opts = delayMs < 0 ? { reason: 'agent nak' } : { delayMs, reason: 'agent nak' };
    if (!(await inbox!.answer(req.params.id, 'retry', opts))) return notFound(reply, req.params.id);
    return reply.code(204).send();
  });
  app.post<{ Params: { id: string } }>('/v1/inbox/:id/term', async (req, reply) => {
    const refused = unavailable(reply);
    if (refused !== undefined) return refused;
    const reason = optionalBody(req.body)['reason'];
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1_000)) {
      throw new NetSyncError('INPUT_INVALID', 'reason: must be a string of at most 1000 characters', {
        field: 'reason',
      });
    }
    const why = reason === undefined ? 'agent term' : `agent term: ${reason}`;
    if (!(await inbox!.answer(req.params.id, 'drop', { reason: why }))) return notFound(reply, req.params.id);
    return reply.code(204).send();
  });
  app.post<{ Params: { id: string } }>('/v1/inbox/:id/working', async (req, reply) => {
    const refused = unavailable(reply);
    if (refused !== undefined) return refused;
    if (!inbox!.working(req.params.id)) return notFound(reply, req.params.id);
    return reply.code(204).send();
  });
}
