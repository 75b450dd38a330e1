import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/digest.js';
import { decodeEnvelope, encodeEnvelope } from '../../../src/core/dsse.js';
import {
  checkAckPayload,
  FEDERATION_ACK_TYPE,
  type FederationAckPayload,
  inboundSubjects,
} from '../../../src/core/federation-message.js';
import {
  ackMsgId,
  ackPayloadBytes,
  buildFederationAckRow,
  classifyAck,
  eventDigest,
  judgeAck,
  peekEventId,
  receivedMsgName,
} from '../../../src/core/federation-receipt.js';
import { signEnvelope } from '../../../src/core/federation-trust.js';
import { ed25519Verifier, Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';

const DIGEST = 'a'.repeat(64);
const ack: FederationAckPayload = {
  schemaVersion: 1,
  eventId: 'E1',
  msgId: 'E1',
  digest: DIGEST,
  status: 'rejected',
  reason: 'bad-signature',
  from: 'acme',
  to: 'org',
  receivedAt: '2026-12-07T10:00:00.000Z',
};
let acme: Ed25519Signer;

beforeAll(async () => {
  const key = await generateKeyPair('Ed25519');
  acme = new Ed25519Signer(peerIdFromPrivateKey(key).toString(), key.raw);
});

describe('receipt payload and row', () => {
  it('serializes the payload in the contract order, reason only when there is one', () => {
    expect(new TextDecoder().decode(ackPayloadBytes(ack))).toBe(
      '{"schemaVersion":1,"eventId":"E1","msgId":"E1","digest":"' +
        DIGEST +
        '","status":"rejected","reason":"bad-signature",' +
        '"from":"acme","to":"org","receivedAt":"2026-12-07T10:00:00.000Z"}',
    );
    const { reason: _, ...accepted } = { ...ack, status: 'accepted' as const };
    const text = new TextDecoder().decode(ackPayloadBytes(accepted));
    expect(text).not.toContain('reason');
    expect(checkAckPayload(JSON.parse(text)).ok).toBe(true);
  });

  it('names the receipt ack-<msgId>-<16 hex of digest>, and a message without an ID by its place', () => {
    expect(ackMsgId('E1', DIGEST)).toBe(`ack-E1-${'a'.repeat(16)}`);
    expect(receivedMsgName('E1', 'FEDERATION', 4)).toBe('E1');
    expect(receivedMsgName(undefined, 'FEDERATION', 4)).toBe('FEDERATION:4');
    expect(receivedMsgName('with space', 'FEDERATION', 4)).toBe('FEDERATION:4');
  });

  it('builds the outbox row with the contract headers', async () => {
    const envelope = await signEnvelope(FEDERATION_ACK_TYPE, ackPayloadBytes(ack), [acme]);
    const row = buildFederationAckRow({
      ack,
      envelope,
      subject: 'root.solar.federation.inbound.acks.acme',
      origin: acme.keyid,
      traceparent: 'tp',
      createdAtMs: 5,
    });
    expect(row).toMatchObject({
      correlationId: `ack-E1-${'a'.repeat(16)}`,
      subject: 'root.solar.federation.inbound.acks.acme',
      kind: 'command',
      state: 'pending-commit',
      headers: {
        'Net-Sync-Correlation-Id': `ack-E1-${'a'.repeat(16)}`,
        'Net-Sync-Kind': 'federation-ack',
        'Net-Sync-Schema-Version': '1',
        'Net-Sync-Partner': 'org',
        'Net-Sync-Origin': acme.keyid,
        traceparent: 'tp',
        'Net-Sync-Schema': 'federation-ack.v1.json',
      },
    });
    expect(row.body).toEqual(encodeEnvelope(envelope));
  });

  it('reads the digest and event ID of what it can, whatever the signatures', () => {
    const body = new TextEncoder().encode('{"eventId":"E9"}');
    const env = encodeEnvelope({ payloadType: 'x', payload: Buffer.from(body).toString('base64'), signatures: [] });
    expect(eventDigest(env)).toBe(sha256Hex(body));
    expect(peekEventId(env)).toBe('E9');
    const junk = new TextEncoder().encode('junk');
    expect(eventDigest(junk)).toBe(sha256Hex(junk));
    expect(peekEventId(junk)).toBeUndefined();
  });

  it('defaults a receiving partner to subjects that name us', () => {
    expect(inboundSubjects('root.solar', 'acme', {})).toEqual({
      events: 'root.solar.federation.outbound.events.acme',
      acks: 'root.solar.federation.inbound.acks.acme',
    });
    expect(inboundSubjects('root.solar', 'acme', { eventsSubject: 'x.y', acksSubject: 'a.b' })).toEqual({
      events: 'x.y',
      acks: 'a.b',
    });
  });
});

describe('judgeAck', () => {
  const ctx = () => ({
    partner: 'acme',
    us: 'org',
    keys: [{ id: acme.keyid }],
    threshold: 1,
    storedAtMs: Date.parse('2026-12-07T10:00:00Z'),
    verifier: ed25519Verifier,
  });
  const signed = async (payload: unknown, type = FEDERATION_ACK_TYPE): Promise<Uint8Array> =>
    encodeEnvelope(await signEnvelope(type, new TextEncoder().encode(JSON.stringify(payload)), [acme]));

  it('accepts a receipt signed by the partner, from it, to us', async () => {
    const v = await judgeAck(await signed(ack), ctx());
    expect(v).toEqual({ ok: true, ack, signers: [acme.keyid] });
  });

  it('refuses with one reason', async () => {
    expect(await judgeAck(new TextEncoder().encode('x'), ctx())).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await judgeAck(await signed(ack, 'other'), ctx())).toMatchObject({ ok: false, reason: 'payload-type' });
    expect(await judgeAck(await signed({ ...ack, digest: 'x' }), ctx())).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
    expect(await judgeAck(await signed({ ...ack, from: 'beta' }), ctx())).toMatchObject({
      ok: false,
      reason: 'wrong-sender',
    });
    expect(await judgeAck(await signed({ ...ack, to: 'beta' }), ctx())).toMatchObject({
      ok: false,
      reason: 'wrong-recipient',
    });
    expect(await judgeAck(await signed(ack), { ...ctx(), keys: [] })).toMatchObject({
      ok: false,
      reason: 'untrusted-key',
    });
    const d = decodeEnvelope(await signed(ack));
    expect(d.ok).toBe(true);
    expect(
      await judgeAck(await signed(ack), { ...ctx(), threshold: 2, keys: [{ id: acme.keyid }, { id: 'x' }] }),
    ).toMatchObject({
      ok: false,
      reason: 'below-threshold',
    });
  });
});

describe('classifyAck', () => {
  const sent = { eventId: 'E1', partner: 'acme', digest: DIGEST, acked: false };
  it('applies only a receipt for the message we sent that partner, with its digest, once', () => {
    expect(classifyAck(ack, 'acme', sent)).toBe('applied');
    expect(classifyAck(ack, 'acme', { ...sent, acked: true })).toBe('duplicate');
    expect(classifyAck(ack, 'acme', undefined)).toBe('unknown-event');
    expect(classifyAck(ack, 'beta', sent)).toBe('unknown-event');
    expect(classifyAck({ ...ack, msgId: 'COPY' }, 'acme', sent)).toBe('unknown-event');
    expect(classifyAck({ ...ack, digest: 'b'.repeat(64) }, 'acme', sent)).toBe('digest-mismatch');
  });
});
