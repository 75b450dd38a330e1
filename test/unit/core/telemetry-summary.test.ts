import { describe, expect, test } from 'vitest';
import {
  buildTelemetryRow,
  checkSubjectMapTarget,
  summaryMsgId,
  telemetrySubject,
  type SummaryKey,
} from '../../../src/core/telemetry-summary.js';
import { checkSubject } from '../../../src/core/subject.js';

const KEY: SummaryKey = {
  metric: 'sentiment.delta',
  origin: '12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F6LPhWmrsP2uMD',
  epoch: 1_700_000_000_000,
  tags: { region: 'eu', agent: 'a1' },
  windowStart: 1_700_000_005_000,
  windowMs: 1_000,
  part: 0,
  late: false,
};

describe('summary message ID', () => {
  test('is deterministic and independent of tag order', () => {
    const a = summaryMsgId(KEY);
    expect(summaryMsgId({ ...KEY, tags: { agent: 'a1', region: 'eu' } })).toBe(a);
    expect(a).toMatch(/^tlm-1700000005000-[0-9a-f]{32}$/);
  });

  test.each([
    ['origin', { origin: '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo' }],
    ['epoch', { epoch: KEY.epoch + 1 }],
    ['metric', { metric: 'sentiment.other' }],
    ['tags', { tags: { region: 'us', agent: 'a1' } }],
    ['window', { windowStart: KEY.windowStart + 1_000 }],
    ['part', { part: 1 }],
    ['late', { late: true }],
    ['straggler scout', { straggler: 'scoutA' }],
  ])('changes with %s', (_name, change) => {
    expect(summaryMsgId({ ...KEY, ...change })).not.toBe(summaryMsgId(KEY));
  });
});

describe('telemetry subject mapping', () => {
  test('default: the metric name, depth ≤ 4 after the prefix', () => {
    expect(telemetrySubject('sentiment.delta', 'root.solar')).toBe('root.solar.telemetry.sentiment.delta');
    expect(telemetrySubject('cpu', 'root.solar')).toBe('root.solar.telemetry.misc.cpu');
    expect(telemetrySubject('a.b.c', 'root.solar')).toBe('root.solar.telemetry.a.b.c');
    expect(telemetrySubject('a.b.c.d.e', 'root.solar')).toBe('root.solar.telemetry.a.b.c_d_e');
    for (const m of ['x', 'a.b', 'a.b.c', 'a.b.c.d.e.f.g.h'])
      expect(checkSubject(telemetrySubject(m, 'root.solar'), 'root.solar', 'telemetry')).toBeNull();
  });

  test('configured map: exact names win over the longest area wildcard', () => {
    const map = {
      'sentiment.*': 'sentiment.all',
      'sentiment.fx.*': 'sentiment.fx',
      'sentiment.delta': 'sentiment.delta',
    };
    expect(telemetrySubject('sentiment.delta', 'p', map)).toBe('p.telemetry.sentiment.delta');
    expect(telemetrySubject('sentiment.score', 'p', map)).toBe('p.telemetry.sentiment.all');
    expect(telemetrySubject('sentiment.fx.eur', 'p', map)).toBe('p.telemetry.sentiment.fx');
    expect(telemetrySubject('other.x', 'p', map)).toBe('p.telemetry.other.x');
    expect(checkSubjectMapTarget('a.b.c.d')).toMatch(/1-3 tokens/);
    expect(checkSubjectMapTarget('a.b')).toBeNull();
  });

  test('row: kind telemetry, pending-commit, msg ID as correlation ID, contract headers', () => {
    const row = buildTelemetryRow({
      subject: 'root.solar.telemetry.a.b',
      msgId: 'tlm-1-x',
      body: { a: 1 },
      origin: KEY.origin,
      publisher: 'scout',
      createdAtMs: 5,
    });
    expect(row).toMatchObject({ correlationId: 'tlm-1-x', kind: 'telemetry', state: 'pending-commit', createdAtMs: 5 });
    expect(row.headers).toMatchObject({
      'Net-Sync-Correlation-Id': 'tlm-1-x',
      'Net-Sync-Schema-Version': '1',
      'Net-Sync-Origin': KEY.origin,
      'Net-Sync-Kind': 'telemetry',
    });
    expect(row.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});
