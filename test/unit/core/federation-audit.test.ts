import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/digest.js';
import { base64Encode, encodeEnvelope } from '../../../src/core/dsse.js';
import { type AuditMessage, FederationAudit } from '../../../src/core/federation-audit.js';
import {
  eventPayloadBytes,
  FEDERATION_ACK_TYPE,
  FEDERATION_EVENT_TYPE,
  type FederationAckPayload,
} from '../../../src/core/federation-message.js';
import { ackPayloadBytes } from '../../../src/core/federation-receipt.js';
import { signEnvelope } from '../../../src/core/federation-trust.js';
import { ed25519Verifier, Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';

let org: Ed25519Signer;
let org2: Ed25519Signer;
let acme: Ed25519Signer;
let stranger: Ed25519Signer;

async function signer(): Promise<Ed25519Signer> {
  const key = await generateKeyPair('Ed25519');
  return new Ed25519Signer(peerIdFromPrivateKey(key).toString(), key.raw);
}

beforeAll(async () => {
  [org, org2, acme, stranger] = await Promise.all([signer(), signer(), signer(), signer()]);
});

const T0 = Date.parse('2026-12-07T10:00:00.000Z');
let seq = 0;
const msg = (msgId: string | undefined, data: Uint8Array, timeMs = T0): AuditMessage => ({
  stream: 'FEDERATION',
  seq: ++seq,
  msgId,
  data,
  timeMs,
});

function eventBody(eventId: string, over: Record<string, unknown> = {}): Uint8Array {
  return eventPayloadBytes({
    schemaVersion: 1,
    eventId,
    from: 'org',
    to: 'acme',
    type: 'order.created',
    payload: { n: eventId },
    createdAt: '2026-12-07T10:00:00.000Z',
    origin: org.keyid,
    ...over,
  } as never);
}

const event = async (eventId: string, by = [org], over: Record<string, unknown> = {}): Promise<Uint8Array> =>
  encodeEnvelope(await signEnvelope(FEDERATION_EVENT_TYPE, eventBody(eventId, over), by));

const receipt = async (over: Partial<FederationAckPayload>, by = [acme]): Promise<Uint8Array> =>
  encodeEnvelope(
    await signEnvelope(
      FEDERATION_ACK_TYPE,
      ackPayloadBytes({
        schemaVersion: 1,
        eventId: 'E1',
        msgId: 'E1',
        digest: sha256Hex(eventBody('E1')),
        status: 'accepted',
        from: 'acme',
        to: 'org',
        receivedAt: '2026-12-07T10:00:01.000Z',
        ...over,
      }),
      by,
    ),
  );

function audit(threshold = 1): FederationAudit {
  return new FederationAudit({
    us: 'org',
    signers: [{ id: org.keyid }, { id: org2.keyid }],
    threshold,
    verifier: ed25519Verifier,
    ackTimeoutMs: 60_000,
  });
}
const ACME = () => ({ name: 'acme', keys: [{ id: acme.keyid }], threshold: 1 });

describe('federation audit', () => {
  it('verifies events, pairs their receipts, and reports the unanswered ones as gaps after the timeout', async () => {
    const a = audit();
    for (const id of ['E1', 'E2', 'E3']) await a.addEvent('acme', msg(id, await event(id)));
    await a.addAck(ACME(), msg('ack-E1', await receipt({})));
    await a.addAck(
      ACME(),
      msg(
        'ack-E2',
        await receipt({
          eventId: 'E2',
          msgId: 'E2',
          digest: sha256Hex(eventBody('E2')),
          status: 'rejected',
          reason: 'equivocation',
        }),
      ),
    );
    const early = a.report(T0 + 59_999);
    expect(early).toMatchObject({
      events: 3,
      verified: 3,
      acked: 1,
      rejected: 1,
      gaps: [],
      badEvents: [],
      badAcks: [],
    });
    const late = a.report(T0 + 60_000);
    expect(late.gaps).toEqual([{ partner: 'acme', eventId: 'E3', streamSeq: expect.any(Number), ageMs: 60_000 }]);
  });

  it('names each message we did not sign as a bad event, with the receiver reason', async () => {
    const a = audit();
    const good = JSON.parse(new TextDecoder().decode(await event('T'))) as Record<string, unknown>;
    const cases: Array<[string, Uint8Array, string]> = [
      [
        'U',
        encodeEnvelope({ payloadType: FEDERATION_EVENT_TYPE, payload: base64Encode(eventBody('U')), signatures: [] }),
        'below-threshold',
      ],
      ['K', await event('K', [stranger]), 'untrusted-key'],
      [
        'T',
        new TextEncoder().encode(
          JSON.stringify({ ...good, payload: base64Encode(eventBody('T', { payload: { more: 1 } })) }),
        ),
        'bad-signature',
      ],
      ['R', await event('R', [org], { to: 'beta' }), 'wrong-recipient'],
      ['S', await event('S', [org], { from: 'acme' }), 'wrong-sender'],
      ['X', await event('Y'), 'id-mismatch'],
      ['J', new TextEncoder().encode('not json'), 'malformed'],
    ];
    for (const [id, data] of cases) await a.addEvent('acme', msg(id, data));
    const r = a.report(T0);
    expect(r.badEvents.map((b) => [b.msgId, b.reason])).toEqual(cases.map(([id, , reason]) => [id, reason]));
    expect(r).toMatchObject({ events: 7, verified: 0, duplicates: [], gaps: [] });
  });

  it('wants the quorum of our keys with consensus on', async () => {
    const a = audit(2);
    await a.addEvent('acme', msg('ONE', await event('ONE')));
    await a.addEvent('acme', msg('TWO', await event('TWO', [org, org2])));
    const r = a.report(T0);
    expect(r.verified).toBe(1);
    expect(r.badEvents).toEqual([
      { msgId: 'ONE', streamSeq: expect.any(Number), reason: 'below-threshold', partner: 'acme' },
    ]);
  });

  it('lists byte copies as duplicates, another payload under a known event ID as equivocation', async () => {
    const a = audit();
    const e1 = await event('E1');
    await a.addEvent('acme', msg('E1', e1));
    const first = seq;
    await a.addEvent('acme', msg('COPY', e1));
    await a.addEvent('acme', msg('E1', e1)); // the same ID again, past the duplicate window
    await a.addEvent('acme', msg('E1', await event('E1', [org], { payload: { other: true } })));
    const r = a.report(T0);
    expect(r.duplicates).toEqual([
      { eventId: 'E1', partner: 'acme', msgIds: ['E1', 'COPY', 'E1'], streamSeqs: [first, first + 1, first + 2] },
    ]);
    expect(r.badEvents).toEqual([{ msgId: 'E1', streamSeq: first + 3, reason: 'equivocation', partner: 'acme' }]);
    expect(r.verified).toBe(1);
  });

  it('names each bad receipt, and pairs a receipt of a refused message with that message', async () => {
    const a = audit();
    await a.addEvent('acme', msg('E1', await event('E1')));
    const forged = await event('F1', [stranger]);
    await a.addEvent('acme', msg('F1', forged));
    const forgedDigest = sha256Hex(eventBody('F1'));
    const bad: Array<[string, Uint8Array, string]> = [
      [
        'A-UNSIGNED',
        encodeEnvelope({ payloadType: FEDERATION_ACK_TYPE, payload: base64Encode(new Uint8Array(2)), signatures: [] }),
        'below-threshold',
      ],
      ['A-KEY', await receipt({}, [stranger]), 'untrusted-key'],
      ['A-DIGEST', await receipt({ digest: '0'.repeat(64) }), 'digest-mismatch'],
      ['A-EVENT', await receipt({ eventId: 'NOPE', msgId: 'NOPE' }), 'unknown-event'],
      ['A-JSON', new TextEncoder().encode('{no'), 'malformed'],
      ['A-TO', await receipt({ to: 'beta' }), 'wrong-recipient'],
    ];
    for (const [id, data] of bad) await a.addAck(ACME(), msg(id, data));
    await a.addAck(ACME(), msg('ack-E1', await receipt({})));
    await a.addAck(ACME(), msg('ack-E1-again', await receipt({})));
    await a.addAck(
      ACME(),
      msg(
        'ack-F1',
        await receipt({
          eventId: 'F1',
          msgId: 'F1',
          digest: forgedDigest,
          status: 'rejected',
          reason: 'untrusted-key',
        }),
      ),
    );
    const r = a.report(T0);
    expect(r.badAcks.map((b) => [b.msgId, b.reason])).toEqual([
      ...bad.map(([id, , reason]) => [id, reason]),
      ['ack-E1-again', 'duplicate'],
    ]);
    expect(r).toMatchObject({ verified: 1, acked: 1, rejected: 0 });
    expect(r.badEvents.map((b) => b.msgId)).toEqual(['F1']);
  });

  it('excuses a receipt whose event lies before the window, once the caller found it there', async () => {
    const a = audit();
    await a.addAck(ACME(), msg('ack-OLD', await receipt({ eventId: 'OLD', msgId: 'OLD' })));
    expect([...a.unknownEventMsgIds('acme')]).toEqual(['OLD']);
    expect([...a.unknownEventMsgIds('beta')]).toEqual([]);
    expect(a.report(T0).badAcks.length).toBe(1);
    expect(a.report(T0, new Map([['acme', new Set(['OLD'])]])).badAcks).toEqual([]);
  });

  it('judges a receipt by the key windows at the time the stream stored it', async () => {
    const a = audit();
    await a.addEvent('acme', msg('E1', await event('E1')));
    const partner = { name: 'acme', keys: [{ id: acme.keyid, notAfterMs: T0 }], threshold: 1 };
    await a.addAck(partner, msg('ack-late', await receipt({}), T0));
    await a.addAck(partner, msg('ack-early', await receipt({}), T0 - 1));
    const r = a.report(T0);
    expect(r.badAcks.map((b) => [b.msgId, b.reason])).toEqual([['ack-late', 'retired-key']]);
    expect(r.acked).toBe(1);
  });
});
