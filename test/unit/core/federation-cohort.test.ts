import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../../src/core/dsse.js';
import { checkCohortEvent, promotedEventRow, proposedEventRow } from '../../../src/core/federation-cohort.js';
import {
  eventOfStoredRow,
  eventPayloadBytes,
  FEDERATION_EVENT_TYPE,
  storedEventPayload,
} from '../../../src/core/federation-message.js';

const SUBJECT = 'root.solar.federation.outbound.events.acme';
const ORIGIN = '12D3KooWFCeJHxQ1jJ8mrT8p94Jx45je2DffwJVDpmu11bdvZaTs';
const ID = '01JEVENT000000000000000001';
const rules = { us: 'org', partners: new Map([['acme', SUBJECT]]), maxTextBytes: 2_000 };
const text = (over: Record<string, unknown> = {}): string =>
  new TextDecoder().decode(
    eventPayloadBytes({
      schemaVersion: 1,
      eventId: ID,
      from: 'org',
      to: 'acme',
      type: 'order.created',
      payload: { n: 1 },
      createdAt: '2026-12-07T10:00:00.000Z',
      origin: ORIGIN,
      ...over,
    } as never),
  );
const item = (over: Record<string, unknown> = {}) => ({
  correlationId: ID,
  subject: SUBJECT,
  payload: text(),
  federation: { partner: 'acme' },
  ...over,
});

describe('checkCohortEvent (what an endorser signs)', () => {
  it('endorses an event in the contract form from us to an allowed partner, proposed by its origin', () => {
    expect(checkCohortEvent(item(), ORIGIN, rules)).toBeNull();
  });

  it('refuses each departure with its reason', () => {
    const cases: Array<[ReturnType<typeof item>, string, string]> = [
      [item({ federation: { partner: 'beta' } }), ORIGIN, 'partner-not-allowed'],
      [item({ federation: undefined }), ORIGIN, 'partner-not-allowed'],
      [item({ subject: 'root.solar.federation.outbound.events.beta' }), ORIGIN, 'subject-mismatch'],
      [item({ payload: { not: 'text' } }), ORIGIN, 'event-malformed'],
      [item({ payload: 'not json' }), ORIGIN, 'event-malformed'],
      [item({ payload: JSON.stringify({ ...JSON.parse(text()), extra: 1 }) }), ORIGIN, 'event-malformed'],
      [item({ payload: JSON.stringify(JSON.parse(text()), null, 1) }), ORIGIN, 'event-malformed'],
      [item({ payload: text({ to: 'beta' }) }), ORIGIN, 'event-mismatch'],
      [item({ payload: text({ from: 'other' }) }), ORIGIN, 'event-mismatch'],
      [item({ payload: text({ eventId: '01JEVENT000000000000000002' }) }), ORIGIN, 'event-mismatch'],
      [item(), `${ORIGIN.slice(0, -1)}X`, 'event-mismatch'],
      [item({ payload: text({ payload: 'x'.repeat(3_000) }) }), ORIGIN, 'payload-too-large'],
    ];
    for (const [i, origin, reason] of cases) expect(checkCohortEvent(i, origin, rules), reason).toBe(reason);
  });
});

describe('the rows of a cohort event', () => {
  const input = {
    correlationId: ID,
    subject: SUBJECT,
    partner: 'acme',
    text: text(),
    payloadDigest: 'a'.repeat(64),
    origin: ORIGIN,
    traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
    createdAtMs: Date.parse('2026-12-07T10:00:00Z'),
    endorsements: [
      { peerId: 'P1', signature: 's1' },
      { peerId: 'P2', signature: 's2' },
    ],
    dsse: new Map([
      ['P2', { keyid: 'K2', sig: 'c2ln' }],
      ['P1', { keyid: 'K1', sig: 'c2lm' }],
      ['P3', { keyid: 'K3', sig: 'c2ln' }],
    ]),
  };

  it('keeps a proposed event readable (payload, partner, signatures held) under the event headers', () => {
    const row = proposedEventRow(input);
    expect(row.state).toBe('proposed');
    expect(row.headers).toMatchObject({ 'Net-Sync-Kind': 'federation-event', 'Net-Sync-Partner': 'acme' });
    expect(new TextDecoder().decode(storedEventPayload(row.body))).toBe(text());
    expect(eventOfStoredRow(row.body)?.eventId).toBe(ID);
    const body = JSON.parse(new TextDecoder().decode(row.body));
    expect(body.federation.signatures).toHaveLength(3);
  });

  it('promotes to the DSSE envelope carrying exactly the final endorsers signatures, in their order', () => {
    const row = promotedEventRow(input);
    const d = decodeEnvelope(row.body);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.envelope.payloadType).toBe(FEDERATION_EVENT_TYPE);
    expect(new TextDecoder().decode(d.envelope.body)).toBe(text());
    expect(d.envelope.signatures.map((s) => s.keyid)).toEqual(['K1', 'K2']);
    expect(row.headers).toMatchObject({
      'Net-Sync-Correlation-Id': ID,
      'Net-Sync-Kind': 'federation-event',
      'Net-Sync-Schema-Version': '1',
      'Net-Sync-Partner': 'acme',
      'Net-Sync-Origin': ORIGIN,
    });
    expect(new TextDecoder().decode(storedEventPayload(row.body))).toBe(text());
  });
});
