import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildCommandRow } from '../../../src/core/command-message.js';
import { createOpsMetrics, timeEndorsements } from '../../../src/observability/ops-metrics.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';

const TP = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;

function row(id: string, createdAtMs: number, state: 'pending-commit' | 'proposed' = 'pending-commit') {
  return buildCommandRow({
    correlationId: id,
    subject: 'root.solar.command.a.b',
    payload: {},
    origin: 'me',
    traceparent: TP,
    createdAtMs,
    state,
  });
}

describe('ops metrics', () => {
  it('reports consumer lag (committable, not acked) and commit lag per kind at scrape time', async () => {
    const clock = new ManualClock();
    const outbox = new MemoryOutbox();
    const registry = new Registry();
    createOpsMetrics(registry, outbox, clock);
    await outbox.append([
      row('a', clock.now() - 1_500),
      row('b', clock.now() - 200),
      row('c', clock.now() - 3_000, 'proposed'),
    ]);
    outbox.markInFlight(['b'], clock.now());
    const text = await registry.metrics();
    expect(text).toContain('net_sync_outbox_backlog_rows{kind="command"} 2');
    expect(text).toContain('net_sync_outbox_backlog_rows{kind="telemetry"} 0');
    // The proposed row (waiting for quorum) is the oldest open one: lag counts from acceptance.
    expect(text).toContain('net_sync_commit_lag_seconds{kind="command"} 3');
    expect(text).toContain('net_sync_commit_lag_seconds{kind="telemetry"} 0');
  });

  it('times promotions into the endorsement latency histogram, and only those that moved', async () => {
    const clock = new ManualClock();
    const outbox = new MemoryOutbox();
    const registry = new Registry();
    const m = createOpsMetrics(registry, outbox, clock);
    const timed = timeEndorsements(outbox, m.endorsementLatency, clock);
    await timed.append([row('p', clock.now(), 'proposed')]);
    clock.advance(120);
    const final = row('p', clock.now());
    expect(timed.promote('p', final.body, final.headers, clock.now())).toBe(true);
    expect(timed.promote('p', final.body, final.headers, clock.now())).toBe(false);
    expect(timed.counts().proposed).toBe(0);
    const text = await registry.metrics();
    expect(text).toContain('net_sync_endorsement_latency_seconds_count 1');
    expect(text).toContain('net_sync_endorsement_latency_seconds_sum 0.12');
  });

  it('shows the telemetry reduction factor the scout reports (points per summary)', async () => {
    const registry = new Registry();
    const m = createOpsMetrics(registry, new MemoryOutbox(), new ManualClock());
    expect(await registry.metrics()).toContain('net_sync_telemetry_reduction_factor 0');
    m.telemetryReduction.record(1_000, 4);
    m.telemetryReduction.record(200, 2);
    expect(await registry.metrics()).toContain('net_sync_telemetry_reduction_factor 200');
  });
});
