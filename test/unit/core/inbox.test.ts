import { describe, expect, it } from 'vitest';
import { buildCommandRow } from '../../../src/core/command-message.js';
import {
  type AgentAnswer,
  buildDeliveryDeadLetterRow,
  classifyAgentAnswer,
  type DeliveryDeadLetterBody,
  deliveryDeadLetterId,
  type InboxMessageView,
  inboxCommand,
  retryDelayMs,
  serverMaxDeliver,
} from '../../../src/core/inbox.js';

const SUBJECT = 'root.solar.command.cohort.assign';
const TP = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
const STORED_AT_MS = Date.UTC(2026, 0, 2, 3, 4, 5);
const encoder = new TextEncoder();

const response = (status: number, body: unknown = undefined): AgentAnswer => ({ kind: 'response', status, body });

function view(over: Partial<InboxMessageView> = {}): InboxMessageView {
  return {
    stream: 'COMMANDS',
    streamSeq: 42,
    subject: SUBJECT,
    data: encoder.encode('{}'),
    headers: {},
    deliveryCount: 1,
    publishedAtMs: STORED_AT_MS,
    ...over,
  };
}

// A command as net-sync stores it: its body, its headers, and the Nats-Msg-Id the publisher adds.
function storedCommand(correlationId: string, payload: unknown, endorsers: string[]): InboxMessageView {
  const row = buildCommandRow({
    correlationId,
    subject: SUBJECT,
    payload,
    origin: 'peerA',
    traceparent: TP,
    createdAtMs: STORED_AT_MS - 1_000,
    endorsements: endorsers.map((peerId) => ({ peerId, signature: `sig-${peerId}` })),
  });
  return view({ data: row.body, headers: { ...row.headers, 'Nats-Msg-Id': correlationId } });
}

describe('classifyAgentAnswer (Dapr convention)', () => {
  it.each([
    ['204, no body', response(204)],
    ['200, empty string body', response(200, '')],
    ['200, a body without status', response(200, { ok: true })],
    ['200, SUCCESS', response(200, { status: 'SUCCESS' })],
    ['201, success in lower case', response(201, { status: 'success' })],
    ['299, SUCCESS', response(299, { status: 'SUCCESS' })],
  ])('acks on %s', (_, answer) => {
    expect(classifyAgentAnswer(answer).verdict).toBe('ack');
  });

  it.each([
    ['200, RETRY', response(200, { status: 'RETRY' }), 'agent answered RETRY'],
    ['200, retry in lower case', response(200, { status: 'retry' }), 'agent answered RETRY'],
    ['202, Retry in mixed case', response(202, { status: 'Retry' }), 'agent answered RETRY'],
    ['500', response(500), 'agent answered 500'],
    ['503 with a DROP body (the status code rules)', response(503, { status: 'DROP' }), 'agent answered 503'],
    ['599', response(599), 'agent answered 599'],
    ['408', response(408), 'agent answered 408'],
    ['429', response(429), 'agent answered 429'],
  ])('retries on %s', (_, answer, reason) => {
    expect(classifyAgentAnswer(answer)).toEqual({ verdict: 'retry', reason });
  });

  it('retries when the agent is unreachable or silent, and says which', () => {
    expect(classifyAgentAnswer({ kind: 'unreachable', reason: 'ECONNREFUSED' })).toEqual({
      verdict: 'retry',
      reason: 'agent unreachable: ECONNREFUSED',
    });
    expect(classifyAgentAnswer({ kind: 'timeout' })).toEqual({
      verdict: 'retry',
      reason: 'agent did not answer in time',
    });
  });

  it.each([
    ['200, DROP', response(200, { status: 'DROP' }), 'agent answered DROP'],
    ['200, drop in lower case', response(200, { status: 'drop' }), 'agent answered DROP'],
    ['400', response(400), 'agent answered 400'],
    ['401', response(401), 'agent answered 401'],
    ['404 with a RETRY body (the status code rules)', response(404, { status: 'RETRY' }), 'agent answered 404'],
    ['409', response(409), 'agent answered 409'],
    ['499', response(499), 'agent answered 499'],
  ])('drops on %s', (_, answer, reason) => {
    expect(classifyAgentAnswer(answer)).toEqual({ verdict: 'drop', reason });
  });
});

describe('retryDelayMs', () => {
  const backoff = [100, 500, 2_000];

  it('takes the entry of the delivery that failed, and repeats the last one past the list', () => {
    expect([1, 2, 3, 4, 10].map((n) => retryDelayMs(n, backoff))).toEqual([100, 500, 2_000, 2_000, 2_000]);
  });

  it('reads a count below 1 as the first delivery', () => {
    expect(retryDelayMs(0, backoff)).toBe(100);
    expect(retryDelayMs(-3, backoff)).toBe(100);
  });

  it('is 0 with an empty list', () => {
    expect(retryDelayMs(1, [])).toBe(0);
    expect(retryDelayMs(7, [])).toBe(0);
  });
});

describe('inboxCommand', () => {
  it('gives a net-sync command its payload and endorsers, and the delivery facts', () => {
    const m = { ...storedCommand('01JCMD', { cohort: 'b', n: 3 }, ['peerA', 'peerB']), deliveryCount: 2 };
    expect(inboxCommand(m, true)).toEqual({
      correlationId: '01JCMD',
      subject: SUBJECT,
      payload: { cohort: 'b', n: 3 },
      streamSeq: 42,
      deliveryCount: 2,
      publishedAt: '2026-01-02T03:04:05.000Z',
      verified: true,
      endorsers: ['peerA', 'peerB'],
    });
  });

  it('gives a command without endorsements an empty endorser list, and says it was not verified', () => {
    const c = inboxCommand(storedCommand('01JSOLE', ['a', 1], []), false);
    expect(c).toMatchObject({ payload: ['a', 1], endorsers: [], verified: false });
  });

  it('gives any other JSON body as the payload, without endorsers', () => {
    const foreign = { cohort: 'b', payload: 'not a command: no schemaVersion' };
    const c = inboxCommand(view({ data: encoder.encode(JSON.stringify(foreign)) }), false);
    expect(c.payload).toEqual(foreign);
    expect(c).not.toHaveProperty('endorsers');
    expect(inboxCommand(view({ data: encoder.encode('17') }), false).payload).toBe(17);
    expect(inboxCommand(view({ data: encoder.encode('null') }), false).payload).toBeNull();
  });

  it('gives a body that is not JSON as a string', () => {
    expect(inboxCommand(view({ data: encoder.encode('hello, agent') }), false).payload).toBe('hello, agent');
    expect(inboxCommand(view({ data: new Uint8Array() }), false).payload).toBe('');
    // Not UTF-8 either: decoded leniently rather than refused.
    expect(inboxCommand(view({ data: new Uint8Array([0x6f, 0x6b, 0xff]) }), false).payload).toBe('ok\uFFFD');
  });

  it('names the command by its correlation ID, else its Nats-Msg-Id, else its place in the stream', () => {
    const both = view({ headers: { 'Net-Sync-Correlation-Id': 'corr-1', 'Nats-Msg-Id': 'msg-1' } });
    expect(inboxCommand(both, false).correlationId).toBe('corr-1');
    expect(inboxCommand(view({ headers: { 'Nats-Msg-Id': 'msg-1' } }), false).correlationId).toBe('msg-1');
    expect(inboxCommand(view({ stream: 'CMD', streamSeq: 9 }), false).correlationId).toBe('CMD:9');
  });
});

describe('buildDeliveryDeadLetterRow', () => {
  const bodyOf = (body: Uint8Array): DeliveryDeadLetterBody =>
    JSON.parse(new TextDecoder().decode(body)) as DeliveryDeadLetterBody;

  it('names the stored message, goes to <prefix>.deadletter.command and carries the delivery facts', () => {
    const m = { ...storedCommand('01JDEAD', { v: 1 }, ['peerA']), deliveryCount: 3 };
    const deadAtMs = STORED_AT_MS + 60_000;
    const row = buildDeliveryDeadLetterRow(m, 'workers', 'agent answered DROP', deadAtMs, 'root.solar');
    expect(row).toMatchObject({
      correlationId: 'dl-delivery-COMMANDS-42',
      subject: 'root.solar.deadletter.command',
      kind: 'command',
      state: 'pending-commit',
      createdAtMs: deadAtMs,
    });
    expect(row.headers).toEqual({
      'Net-Sync-Correlation-Id': '01JDEAD',
      'Net-Sync-Schema-Version': '1',
      'Net-Sync-Kind': 'dead-letter',
      'Net-Sync-Schema': 'delivery-dead-letter.v1.json',
      traceparent: TP,
    });
    expect(bodyOf(row.body)).toEqual({
      schemaVersion: 1,
      stage: 'delivery',
      correlationId: '01JDEAD',
      subject: SUBJECT,
      kind: 'command',
      reason: 'agent answered DROP',
      consumer: 'workers',
      stream: 'COMMANDS',
      streamSeq: 42,
      deliveryCount: 3,
      createdAt: '2026-01-02T03:04:05.000Z',
      deadAt: '2026-01-02T03:05:05.000Z',
    });
  });

  it('is the same row for a second notice of the same message, whoever writes it', () => {
    const m = storedCommand('01JTWICE', { v: 1 }, []);
    const a = buildDeliveryDeadLetterRow(m, 'net-sync-a', 'agent term', 1_000, 'root.solar');
    const b = buildDeliveryDeadLetterRow({ ...m, deliveryCount: 2 }, 'net-sync-b', 'agent term', 2_000, 'root.solar');
    expect(b.correlationId).toBe(a.correlationId);
    expect(a.correlationId).toBe(deliveryDeadLetterId(m.stream, m.streamSeq));
  });

  it('falls back to the message ID or stream place for the correlation header; copies no missing traceparent', () => {
    const row = buildDeliveryDeadLetterRow(view({ headers: { 'Nats-Msg-Id': 'foreign-7' } }), 'c', 'r', 1, 'x.y');
    expect(row.subject).toBe('x.y.deadletter.command');
    expect(row.headers).toEqual({
      'Net-Sync-Correlation-Id': 'foreign-7',
      'Net-Sync-Schema-Version': '1',
      'Net-Sync-Kind': 'dead-letter',
      'Net-Sync-Schema': 'delivery-dead-letter.v1.json',
    });
    const bare = buildDeliveryDeadLetterRow(view({ stream: 'CMD', streamSeq: 5 }), 'c', 'r', 1, 'root.solar');
    expect(bare.correlationId).toBe('dl-delivery-CMD-5');
    expect(bare.headers['Net-Sync-Correlation-Id']).toBe('CMD:5');
    expect(bodyOf(bare.body).correlationId).toBe('CMD:5');
  });
});

describe('serverMaxDeliver', () => {
  it('gives the server one delivery more than the sidecar allows the agent (the backstop)', () => {
    expect(serverMaxDeliver(5)).toBe(6);
    expect(serverMaxDeliver(1)).toBe(2);
  });
});
