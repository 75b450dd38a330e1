import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/digest.js';
import { base64Encode, encodeEnvelope } from '../../../src/core/dsse.js';
import { judgeInboundEvent, type InboundContext } from '../../../src/core/federation-inbound.js';
import {
  assertSameEvent,
  buildFederationEventRow,
  checkAckPayload,
  checkEventPayload,
  eventPayloadBytes,
  FEDERATION_EVENT_TYPE,
  type FederationEventPayload,
  keyedEventId,
  parseFederationEventInput,
  partnerSubjects,
} from '../../../src/core/federation-message.js';
import { type DsseSigner, signEnvelope } from '../../../src/core/federation-trust.js';
import { keyedCorrelationId } from '../../../src/core/idempotency.js';
import { ed25519Verifier, Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';

const event: FederationEventPayload = {
  schemaVersion: 1,
  eventId: '01JEVENT0000000000000000AA',
  from: 'org',
  to: 'acme',
  type: 'order.created',
  payload: { n: 1 },
  createdAt: '2026-12-07T10:00:00.000Z',
  origin: '12D3KooWorigin',
};
const ack = {
  schemaVersion: 1,
  eventId: 'e1',
  msgId: 'e1',
  digest: 'a'.repeat(64),
  status: 'accepted',
  from: 'acme',
  to: 'org',
  receivedAt: '2026-12-07T10:00:01.000Z',
};

function fieldOf(r: { ok: boolean; field?: string }): string | undefined {
  return r.ok ? undefined : r.field;
}

describe('federation payloads', () => {
  it('accepts the contract event and names the wrong field', () => {
    expect(checkEventPayload(event)).toEqual({ ok: true, value: event });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ schemaVersion: 2 }, 'schemaVersion'],
      [{ eventId: '' }, 'eventId'],
      [{ eventId: 'a b' }, 'eventId'],
      [{ from: 'Org' }, 'from'],
      [{ to: 'x'.repeat(33) }, 'to'],
      [{ type: 'a/b' }, 'type'],
      [{ payload: undefined }, 'payload.payload'],
      [{ createdAt: 'yesterday' }, 'createdAt'],
      [{ origin: '' }, 'origin'],
    ];
    for (const [change, field] of cases) expect(fieldOf(checkEventPayload({ ...event, ...change })), field).toBe(field);
    expect(fieldOf(checkEventPayload([event]))).toBe('payload');
  });

  it('accepts the contract receipt and names the wrong field', () => {
    expect(checkAckPayload(ack).ok).toBe(true);
    expect(checkAckPayload({ ...ack, status: 'rejected', reason: 'equivocation' }).ok).toBe(true);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ digest: 'A'.repeat(64) }, 'digest'],
      [{ status: 'ok' }, 'status'],
      [{ status: 'rejected' }, 'reason'],
      [{ reason: 'because' }, 'reason'],
      [{ msgId: '' }, 'msgId'],
      [{ receivedAt: 3 }, 'receivedAt'],
    ];
    for (const [change, field] of cases) expect(fieldOf(checkAckPayload({ ...ack, ...change })), field).toBe(field);
  });

  it('serializes the event in the contract order', () => {
    expect(Object.keys(JSON.parse(new TextDecoder().decode(eventPayloadBytes(event))))).toEqual([
      'schemaVersion',
      'eventId',
      'from',
      'to',
      'type',
      'payload',
      'createdAt',
      'origin',
    ]);
  });
});

describe('the agent submission', () => {
  const limits = { sendPartners: new Set(['acme']), maxPayloadBytes: 100 };
  const field = (body: unknown): string | undefined => {
    try {
      parseFederationEventInput(body, limits);
      return undefined;
    } catch (err) {
      return (err as { field?: string }).field;
    }
  };

  it('names partner, type, payload or the unknown field', () => {
    expect(parseFederationEventInput({ partner: 'acme', type: 'a.b', payload: 1 }, limits)).toEqual({
      partner: 'acme',
      type: 'a.b',
      payload: 1,
    });
    expect(field(null)).toBe('body');
    expect(field({ partner: 'other', type: 'a', payload: 1 })).toBe('partner');
    expect(field({ type: 'a', payload: 1 })).toBe('partner');
    expect(field({ partner: 'acme', type: '', payload: 1 })).toBe('type');
    expect(field({ partner: 'acme', type: 'x'.repeat(65), payload: 1 })).toBe('type');
    expect(field({ partner: 'acme', type: 'a' })).toBe('payload');
    expect(field({ partner: 'acme', type: 'a', payload: 'x'.repeat(200) })).toBe('payload');
    expect(field({ partner: 'acme', type: 'a', payload: 1, extra: 1 })).toBe('extra');
  });
});

describe('subjects, IDs and the outbox row', () => {
  it('puts a partner one token under the taxonomy, overrides winning', () => {
    expect(partnerSubjects('root.solar', { name: 'acme' })).toEqual({
      events: 'root.solar.federation.outbound.events.acme',
      acks: 'root.solar.federation.inbound.acks.acme',
    });
    expect(partnerSubjects('root.solar', { name: 'acme', eventsSubject: 'x.y', acksSubject: 'z' })).toEqual({
      events: 'x.y',
      acks: 'z',
    });
  });

  it('keys events in their own namespace', () => {
    expect(keyedEventId('k')).toBe(keyedEventId('k'));
    expect(keyedEventId('k')).not.toBe(keyedCorrelationId('k'));
  });

  it('builds a command-kind row with the contract headers', async () => {
    const envelope = { payloadType: FEDERATION_EVENT_TYPE, payload: 'e30=', signatures: [] };
    const row = buildFederationEventRow({
      eventId: 'E1',
      partner: 'acme',
      subject: 'root.solar.federation.outbound.events.acme',
      envelope,
      origin: 'me',
      traceparent: 'tp',
      createdAtMs: 5,
    });
    expect(row.headers).toEqual({
      'Net-Sync-Correlation-Id': 'E1',
      'Net-Sync-Kind': 'federation-event',
      'Net-Sync-Schema-Version': '1',
      'Net-Sync-Partner': 'acme',
      'Net-Sync-Origin': 'me',
      traceparent: 'tp',
      'Net-Sync-Schema': 'federation-event.v1.json',
    });
    expect(row).toMatchObject({ kind: 'command', state: 'pending-commit', correlationId: 'E1' });
    expect(row.body).toEqual(encodeEnvelope(envelope));
  });

  it('tells the same event from another under one key', async () => {
    const stored = encodeEnvelope({
      payloadType: FEDERATION_EVENT_TYPE,
      payload: base64Encode(eventPayloadBytes(event)),
      signatures: [],
    });
    expect(() => assertSameEvent(stored, { partner: 'acme', type: 'order.created', payload: { n: 1 } })).not.toThrow();
    for (const other of [
      { partner: 'beta', type: 'order.created', payload: { n: 1 } },
      { partner: 'acme', type: 'order.updated', payload: { n: 1 } },
      { partner: 'acme', type: 'order.created', payload: { n: 2 } },
    ])
      expect(() => assertSameEvent(stored, other)).toThrow(/idempotency-key/);
  });
});

describe('judging a received event', () => {
  let acme: DsseSigner[] = [];
  const base = (): InboundContext => ({
    partner: 'acme',
    us: 'org',
    keys: acme.map((s) => ({ id: s.keyid })),
    threshold: 2,
    storedAtMs: Date.parse('2026-12-07T10:00:00Z'),
    msgId: 'E1',
    verifier: ed25519Verifier,
  });
  const from = (e: Partial<FederationEventPayload>): Uint8Array =>
    eventPayloadBytes({ ...event, from: 'acme', to: 'org', eventId: 'E1', ...e });
  const sealed = async (body: Uint8Array, by = acme): Promise<Uint8Array> =>
    encodeEnvelope(await signEnvelope(FEDERATION_EVENT_TYPE, body, by));

  beforeAll(async () => {
    const keys = await Promise.all([1, 2].map(() => generateKeyPair('Ed25519')));
    acme = keys.map((k) => new Ed25519Signer(peerIdFromPrivateKey(k).toString(), k.raw));
  });

  it('accepts a well-signed event and returns the digest of its payload bytes', async () => {
    const body = from({});
    const v = await judgeInboundEvent(await sealed(body), base());
    expect(v).toMatchObject({ accepted: true, digest: sha256Hex(body), signers: acme.map((s) => s.keyid) });
  });

  it('gives one reason for each refusal', async () => {
    const reasons = async (msg: Uint8Array, ctx: Partial<InboundContext> = {}): Promise<string | undefined> => {
      const v = await judgeInboundEvent(msg, { ...base(), ...ctx });
      return v.accepted ? undefined : v.reason;
    };
    const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(await reasons(bytes('not json'))).toBe('malformed');
    expect(await reasons(encodeEnvelope(await signEnvelope('application/other', from({}), acme)))).toBe('payload-type');
    expect(await reasons(await sealed(from({}), acme.slice(0, 1)))).toBe('below-threshold');
    expect(await reasons(await sealed(from({}), []))).toBe('below-threshold');
    expect(await reasons(await sealed(bytes('[1]')))).toBe('malformed');
    expect(await reasons(await sealed(from({ from: 'beta' })))).toBe('wrong-sender');
    expect(await reasons(await sealed(from({ to: 'other' })))).toBe('wrong-recipient');
    expect(await reasons(await sealed(from({})), { msgId: 'E2' })).toBe('id-mismatch');
    expect(await reasons(await sealed(from({})), { keys: [] })).toBe('untrusted-key');
  });

  it('names the digest of the whole body when there is no readable payload', async () => {
    const junk = new TextEncoder().encode('{"payload": 1}');
    expect(await judgeInboundEvent(junk, base())).toMatchObject({ accepted: false, digest: sha256Hex(junk) });
  });
});
