/**
 * One pass of the commit pipeline: claims publishable rows in insertion order, publishes them
 * with a bounded window of PubAcks in flight, and records every outcome in the outbox.
 * A retryable failure stops the pass (no new sends), lets the window drain, and reports it,
 * so the caller backs off and restarts from the oldest unsettled row.
 */
import type { OutboxRow, StreamLocation } from '../core/intent.js';
import type { CommandPublisher, Outbox, PublishResult } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';
import { endSpan, SpanKind, startSpan } from '../observability/tracing.js';
import type { BridgeMetrics } from './metrics.js';

/** What a pass did. */
export interface PassResult {
  committed: Array<{ correlationId: string } & StreamLocation>;
  dead: Array<{ correlationId: string; reason: string }>;
  /** Set when a retryable failure stopped the pass. */
  retryableError: string | null;
  /** Rows claimed by the pass. 0 means nothing was publishable. */
  claimed: number;
}

/** Inputs of a pass. */
export interface PassOptions {
  outbox: Outbox;
  publisher: CommandPublisher;
  now: () => number;
  window: number;
  batchRows: number;
  logger: Logger;
  metrics: BridgeMetrics | undefined;
  signal: AbortSignal;
  /**
   * Renews the publisher lease before each claim; false means another owner holds it and the
   * pass stops claiming at once.
   */
  renewLease: () => boolean;
  /** Called whenever rows settle, so that listeners (SSE, gossip) hear promptly. */
  onSettled: (committed: PassResult['committed'], dead: PassResult['dead']) => void;
}

/** Runs one pass over the publishable rows. */
export async function runPublishPass(opts: PassOptions): Promise<PassResult> {
  const result: PassResult = { committed: [], dead: [], retryableError: null, claimed: 0 };
  const inflight = new Set<Promise<void>>();
  const acked: PassResult['committed'] = [];
  const dead: PassResult['dead'] = [];
  const retry: string[] = [];
  let afterSeq = 0;
  let lastError: string | null = null;

  const settle = (): void => {
    if (acked.length === 0 && dead.length === 0 && retry.length === 0) return;
    const at = opts.now();
    if (acked.length > 0) opts.outbox.markCommitted(acked, at);
    for (const d of dead) opts.outbox.markTerminal([d.correlationId], 'dead', d.reason, at);
    if (retry.length > 0) opts.outbox.markRetry(retry, lastError ?? 'retryable failure', at);
    result.committed.push(...acked);
    result.dead.push(...dead);
    opts.onSettled([...acked], [...dead]);
    acked.length = 0;
    dead.length = 0;
    retry.length = 0;
  };

  const record = (row: OutboxRow, r: PublishResult): void => {
    if (r.kind === 'acked') {
      acked.push({ correlationId: row.correlationId, stream: r.stream, seq: r.seq });
      opts.metrics?.commits.inc({ result: r.duplicate ? 'duplicate' : 'committed' });
      opts.metrics?.commitLatency.observe({ kind: row.kind }, Math.max(0, opts.now() - row.createdAtMs) / 1000);
    } else if (!r.retryable) {
      dead.push({ correlationId: row.correlationId, reason: `${r.code}: ${r.reason}` });
      opts.metrics?.commits.inc({ result: 'dead' });
      opts.logger.error({ correlationId: row.correlationId, subject: row.subject, code: r.code, reason: r.reason }, 'row refused permanently');
    } else {
      lastError = `${r.code}: ${r.reason}`;
      result.retryableError ??= lastError;
      // A row that may have reached the stream stays in-flight: it is looked up before any resend.
      if (!r.outcomeUnknown) retry.push(row.correlationId);
      opts.metrics?.commits.inc({ result: r.outcomeUnknown ? 'unknown' : 'retry' });
    }
  };

  while (result.retryableError === null && !opts.signal.aborted) {
    if (!opts.renewLease()) break;
    const rows = opts.outbox.listPublishable(opts.batchRows, afterSeq);
    if (rows.length === 0) break;
    afterSeq = rows[rows.length - 1]!.seq;
    result.claimed += rows.length;
    opts.outbox.markInFlight(rows.map((r) => r.correlationId), opts.now());
    let sent = 0;
    for (const row of rows) {
      if (result.retryableError !== null || opts.signal.aborted) break;
      while (inflight.size >= opts.window) await Promise.race(inflight);
      if (result.retryableError !== null) break;
      // `intent.commit`: one publish, a child of the trace the agent started (no-op without an SDK).
      const span = startSpan('intent.commit', row.headers['traceparent'], SpanKind.PRODUCER, {
        'messaging.system': 'nats',
        'messaging.destination.name': row.subject,
        'net_sync.correlation_id': row.correlationId,
      });
      const p = opts.publisher
        .publish({ subject: row.subject, body: row.body, msgId: row.correlationId, headers: row.headers }, opts.signal)
        .then((r) => {
          endSpan(span, r.kind === 'failed' ? r.code : undefined);
          record(row, r);
        });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      sent++;
      if (acked.length >= 256) settle();
    }
    // Rows claimed but never sent go straight back: their outcome is known (not sent).
    const unsent = rows.slice(sent).map((r) => r.correlationId);
    if (unsent.length > 0) opts.outbox.markRetry(unsent, result.retryableError ?? 'pass stopped', opts.now());
    settle();
  }
  await Promise.all(inflight);
  settle();
  return result;
}
