/**
 * What `GET /v1/intents/:id` shows of an intent: its outbox row, with the endorsements the
 * command body carries (the mesh may add those it holds beyond them).
 */
import type { CommandBody } from '../core/command-message.js';
import type { OutboxRow } from '../core/intent.js';

/** What the API shows of one intent. */
export interface IntentView {
  correlationId: string;
  state: string;
  subject: string;
  streamSeq?: number;
  stream?: string;
  endorsements: Array<{ peerId: string; signature?: string }>;
  attempts: number;
  lastError?: string;
  reason?: string;
  createdAt: string;
  committedAt?: string;
}

const decoder = new TextDecoder();

/** The API view of an outbox row. */
export function intentView(row: OutboxRow): IntentView {
  let endorsements: IntentView['endorsements'] = [];
  try {
    endorsements = (JSON.parse(decoder.decode(row.body)) as CommandBody).endorsements ?? [];
  } catch {
    // Telemetry rows carry no endorsements.
  }
  return {
    correlationId: row.correlationId,
    state: row.state,
    subject: row.subject,
    ...(row.streamSeq === null ? {} : { streamSeq: row.streamSeq }),
    ...(row.stream === null ? {} : { stream: row.stream }),
    endorsements,
    attempts: row.attempts,
    ...(row.lastError === null ? {} : { lastError: row.lastError }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    createdAt: new Date(row.createdAtMs).toISOString(),
    ...(row.committedAtMs === null ? {} : { committedAt: new Date(row.committedAtMs).toISOString() }),
  };
}
