import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { endSpan, SpanKind, startSpan, traceparentOf } from '../../../src/observability/tracing.js';
import { RecordingTracerProvider } from '../../support/recording-tracer.js';

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

afterEach(() => trace.disable());

describe('tracing without an SDK', () => {
  it('spans are no-ops that keep the parent context; traceparentOf is undefined', () => {
    const span = startSpan('intent.accept', PARENT, SpanKind.SERVER);
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(traceparentOf(span)).toBeUndefined();
    endSpan(span, 'X');
  });
});

describe('tracing with an SDK registered', () => {
  it('continues a valid incoming traceparent as a remote parent', () => {
    const provider = new RecordingTracerProvider();
    trace.setGlobalTracerProvider(provider);
    const span = startSpan('intent.accept', PARENT, SpanKind.SERVER, { a: 1 });
    const tp = traceparentOf(span);
    expect(tp).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(tp).not.toBe(PARENT);
    endSpan(span, 'NATS_PERMISSION_DENIED');
    const [rec] = provider.spans;
    expect(rec).toMatchObject({ name: 'intent.accept', kind: SpanKind.SERVER, ended: true, attributes: { a: 1 } });
    expect(rec!.parent).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      isRemote: true,
    });
    expect(rec!.status?.message).toBe('NATS_PERMISSION_DENIED');
  });

  it('starts a new root for an absent or malformed traceparent', () => {
    const provider = new RecordingTracerProvider();
    trace.setGlobalTracerProvider(provider);
    startSpan('a', undefined, SpanKind.INTERNAL);
    startSpan('b', '00-00000000000000000000000000000000-b7ad6b7169203331-01', SpanKind.INTERNAL);
    startSpan('c', 'garbage', SpanKind.INTERNAL);
    expect(provider.spans.map((s) => s.parent)).toEqual([undefined, undefined, undefined]);
  });
});
