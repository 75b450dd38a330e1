import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { runPublishPass } from '../../../src/commit/publish-pass.js';
import { buildCommandRow } from '../../../src/core/command-message.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeJetStream } from '../../support/fake-jetstream.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { RecordingTracerProvider } from '../../support/recording-tracer.js';

afterEach(() => trace.disable());

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('publish pass tracing', () => {
  it('wraps each publish in an intent.commit span, a child of the row traceparent, failed ones marked', async () => {
    const provider = new RecordingTracerProvider();
    trace.setGlobalTracerProvider(provider);
    const outbox = new MemoryOutbox();
    const js = new FakeJetStream(() => Date.now());
    const mk = (id: string, subject: string) =>
      buildCommandRow({
        correlationId: id,
        subject,
        payload: {},
        origin: 'me',
        traceparent: `00-${TRACE}-00f067aa0ba902b7-01`,
        createdAtMs: Date.now(),
      });
    await outbox.append([mk('ok-1', 'root.solar.command.a.b')]);
    js.faults = ['ok', 'no-stream'];
    await outbox.append([mk('dead-1', 'root.solar.command.none.x')]);
    await runPublishPass({
      outbox,
      publisher: js,
      now: () => Date.now(),
      window: 4,
      batchRows: 8,
      logger: silentLogger(),
      metrics: undefined,
      renewLease: () => true,
      signal: new AbortController().signal,
      onSettled: () => undefined,
    });
    const commits = provider.spans.filter((s) => s.name === 'intent.commit');
    expect(commits).toHaveLength(2);
    for (const s of commits) {
      expect(s.parent).toMatchObject({ traceId: TRACE, spanId: '00f067aa0ba902b7' });
      expect(s.ended).toBe(true);
    }
    expect(commits.map((s) => s.attributes['net_sync.correlation_id'])).toEqual(['ok-1', 'dead-1']);
    expect(commits[0]!.status).toBeUndefined();
    expect(commits[1]!.status?.message).toMatch(/NATS_NO_STREAM/);
  });
});
