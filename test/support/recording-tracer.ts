/**
 * A recording OpenTelemetry TracerProvider for tests (no SDK is a dependency): each started
 * span is kept with its name, kind, attributes, parent and status. Register it with
 * `trace.setGlobalTracerProvider` and `trace.disable()` afterwards.
 */
import { randomBytes } from 'node:crypto';
import {
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

export interface RecordedSpan {
  name: string;
  kind: number | undefined;
  attributes: Attributes;
  parent: SpanContext | undefined;
  context: SpanContext;
  status: SpanStatus | undefined;
  ended: boolean;
}

class RecordingSpan implements Span {
  constructor(readonly rec: RecordedSpan) {}
  spanContext(): SpanContext {
    return this.rec.context;
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.rec.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.rec.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.rec.status = status;
    return this;
  }
  updateName(name: string): this {
    this.rec.name = name;
    return this;
  }
  end(): void {
    this.rec.ended = true;
  }
  isRecording(): boolean {
    return !this.rec.ended;
  }
  recordException(): void {}
}

/** The provider; `spans` holds every span started through it. */
export class RecordingTracerProvider implements TracerProvider {
  readonly spans: RecordedSpan[] = [];

  getTracer(): Tracer {
    const spans = this.spans;
    const start = (name: string, options: SpanOptions = {}, ctx?: Context): Span => {
      const parent = ctx === undefined ? undefined : trace.getSpanContext(ctx);
      const rec: RecordedSpan = {
        name,
        kind: options.kind,
        attributes: { ...(options.attributes ?? {}) },
        parent,
        context: {
          traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
          spanId: randomBytes(8).toString('hex'),
          traceFlags: parent?.traceFlags ?? TraceFlags.SAMPLED,
        },
        status: undefined,
        ended: false,
      };
      spans.push(rec);
      return new RecordingSpan(rec);
    };
    return {
      startSpan: start,
      startActiveSpan: (() => {
        throw new Error('not used');
      }) as Tracer['startActiveSpan'],
    };
  }
}
