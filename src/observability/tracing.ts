/**
 * Spans through the OpenTelemetry API. Without an SDK (none is a dependency) every span is a
 * no-op that still carries its parent's context, so the W3C `traceparent` an agent sent keeps
 * travelling: HTTP header → outbox row → gossip envelope → NATS header. With an SDK
 * registered by the embedding process, `intent.accept` and `intent.commit` become real spans
 * of that trace, and the row's traceparent is a child of `intent.accept`.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import { isTraceparent } from '../core/trace-context.js';

/** The tracer's instrumentation name. */
export const TRACER_NAME = 'net-sync';

export { SpanKind };
export type { Span };

/**
 * Starts span `name` as a child of `traceparent` (a remote parent), or as a new root when it
 * is absent or malformed. Never throws.
 */
export function startSpan(
  name: string,
  traceparent: string | undefined,
  kind: SpanKind,
  attributes: Attributes = {},
): Span {
  const tracer = trace.getTracer(TRACER_NAME);
  if (traceparent === undefined || !isTraceparent(traceparent))
    return tracer.startSpan(name, { kind, attributes }, ROOT_CONTEXT);
  const [, traceId, spanId, flags] = traceparent.split('-') as [string, string, string, string];
  const parent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  });
  return tracer.startSpan(name, { kind, attributes }, parent);
}

/**
 * The traceparent naming `span`, for children to continue from, or undefined when the span
 * records nothing (no SDK): then the caller keeps the traceparent it already had.
 */
export function traceparentOf(span: Span): string | undefined {
  if (!span.isRecording()) return undefined;
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & TraceFlags.SAMPLED) === 0 ? '00' : '01'}`;
}

/** Ends `span`, marking it failed with `error` (a bounded code) when given. */
export function endSpan(span: Span, error?: string): void {
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  span.end();
}
