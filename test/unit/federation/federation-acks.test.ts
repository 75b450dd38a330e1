import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../../../src/core/dsse.js';
import {
  buildFederationEventRow,
  eventPayloadBytes,
  FEDERATION_ACK_TYPE,
  FEDERATION_EVENT_TYPE,
  type FederationAckPayload,
} from '../../../src/core/federation-message.js';
import { ackPayloadBytes, eventDigest } from '../../../src/core/federation-receipt.js';
import { signEnvelope } from '../../../src/core/federation-trust.js';
import type { InboxDelivery } from '../../../src/core/inbox.js';
import { type AckPartner, createFederationMetrics, FederationAcks } from '../../../src/federation/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ed25519Verifier, Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';
import { MemoryAppliedAcks } from '../../support/memory-federation-ledger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryInboxSource } from '../../support/memory-inbox-source.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';

let orgSigner: Ed25519Signer;
let acmeSigner: Ed25519Signer;
let outbox: MemoryOutbox;
let ledger: MemoryAppliedAcks;
let acks: FederationAcks;
let acme: AckPartner;
let digests: Map<string, string>;

async function signer(): Promise<Ed25519Signer> {
  const key = await generateKeyPair('Ed25519');
  return new Ed25519Signer(peerIdFromPrivateKey(key).toString(), key.raw);
}

async function sendEvent(eventId: string, partner = 'acme'): Promise<void> {
  const body = eventPayloadBytes({
    schemaVersion: 1,
    eventId,
    from: 'org',
    to: partner,
    type: 't',
    payload: { eventId },
    createdAt: '2026-12-07T10:00:00.000Z',
    origin: orgSigner.keyid,
  });
  const row = buildFederationEventRow({
    eventId,
    partner,
    subject: `root.solar.federation.outbound.events.${partner}`,
    envelope: await signEnvelope(FEDERATION_EVENT_TYPE, body, [orgSigner]),
    origin: orgSigner.keyid,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    createdAtMs: 1,
  });
  await outbox.append([row]);
  digests.set(eventId, eventDigest(row.body));
}

async function receipt(over: Partial<FederationAckPayload>, by = [acmeSigner]): Promise<Uint8Array> {
  const eventId = over.eventId ?? 'E1';
  const ack: FederationAckPayload = {
    schemaVersion: 1,
    eventId,
    msgId: eventId,
    digest: digests.get(eventId) ?? 'f'.repeat(64),
    status: 'accepted',
    from: 'acme',
    to: 'org',
    receivedAt: '2026-12-07T10:00:01.000Z',
    ...over,
  };
  return encodeEnvelope(await signEnvelope(FEDERATION_ACK_TYPE, ackPayloadBytes(ack), by));
}

let seq = 0;
function delivery(data: Uint8Array): InboxDelivery & { calls: string[] } {
  const calls: string[] = [];
  return {
    stream: 'FEDERATION',
    streamSeq: ++seq,
    subject: 'root.solar.federation.inbound.acks.acme',
    data,
    headers: { 'Nats-Msg-Id': `ack-${seq}` },
    deliveryCount: 1,
    publishedAtMs: Date.parse('2026-12-07T10:00:02Z'),
    consumer: 'fed-acks',
    ackSubject: '',
    calls,
    ack: async () => {
      calls.push('ack');
      return true;
    },
    nak: (ms) => calls.push(`nak:${ms}`),
    term: (r) => calls.push(`term:${r}`),
    working: () => undefined,
  };
}

beforeEach(async () => {
  orgSigner ??= await signer();
  acmeSigner ??= await signer();
  outbox = new MemoryOutbox();
  ledger = new MemoryAppliedAcks();
  digests = new Map();
  acme = { name: 'acme', keys: [{ id: acmeSigner.keyid }], threshold: 1, source: new MemoryInboxSource() };
  acks = new FederationAcks({
    partners: [acme],
    us: 'org',
    outbox,
    acks: ledger,
    verifier: ed25519Verifier,
    concurrency: 10,
    clock: new ManualClock(Date.parse('2026-12-07T10:00:03Z')),
    logger: silentLogger(),
    metrics: createFederationMetrics(new Registry()),
  });
  await sendEvent('E1');
});

describe('FederationAcks', () => {
  it('applies a valid receipt once: the event shows acked with the signers', async () => {
    const d = delivery(await receipt({}));
    expect(await acks.onDelivery(acme, d)).toBe('applied');
    expect(d.calls).toEqual(['ack']);
    expect(acks.overlay({ eventId: 'E1', partner: 'acme', state: 'committed' })).toEqual({
      eventId: 'E1',
      partner: 'acme',
      state: 'acked',
      ackedAt: '2026-12-07T10:00:03.000Z',
      ack: { status: 'accepted', signers: [acmeSigner.keyid] },
    });
    expect(await acks.onDelivery(acme, delivery(await receipt({})))).toBe('duplicate');
    expect(await acks.onDelivery(acme, delivery(await receipt({ status: 'rejected', reason: 'bad-signature' })))).toBe(
      'duplicate',
    );
    expect(ledger.get('E1')?.status).toBe('accepted');
  });

  it('applies a rejection with its reason', async () => {
    expect(await acks.onDelivery(acme, delivery(await receipt({ status: 'rejected', reason: 'retired-key' })))).toBe(
      'applied',
    );
    expect(acks.overlay({ eventId: 'E1', partner: 'acme', state: 'committed' })).toMatchObject({
      state: 'rejected',
      ack: { status: 'rejected', reason: 'retired-key', signers: [acmeSigner.keyid] },
    });
  });

  it('never applies an invalid receipt, one for an unknown event, another message, or another digest', async () => {
    await sendEvent('B1', 'beta');
    const stranger = await signer();
    const cases: Array<[string, Uint8Array, string]> = [
      ['unsigned', encodeEnvelope({ payloadType: FEDERATION_ACK_TYPE, payload: 'e30=', signatures: [] }), 'invalid'],
      ['unknown key', await receipt({}, [stranger]), 'invalid'],
      ['not JSON', new TextEncoder().encode('nope'), 'invalid'],
      ['from another org', await receipt({ from: 'beta' }), 'invalid'],
      ['to another org', await receipt({ to: 'beta' }), 'invalid'],
      ['unknown event', await receipt({ eventId: 'NOPE' }), 'unknown-event'],
      ['event sent to another partner', await receipt({ eventId: 'B1' }), 'unknown-event'],
      ['about another message', await receipt({ msgId: 'COPY' }), 'unknown-event'],
      ['wrong digest', await receipt({ digest: '0'.repeat(64) }), 'digest-mismatch'],
    ];
    for (const [name, data, result] of cases) {
      const d = delivery(data);
      expect(await acks.onDelivery(acme, d), name).toBe(result);
      expect(d.calls, name).toEqual(['ack']);
    }
    expect(ledger.rows.size).toBe(0);
    expect(acks.refusedCount('acme')).toBe(cases.length);
    expect(acks.refused.map((r) => r.result)).toEqual(cases.map((c) => c[2]));
    expect(acks.overlay({ eventId: 'E1', partner: 'acme', state: 'committed' }).state).toBe('committed');
  });

  it('with consensus on, reads a receipt of an event not held yet again later, then counts it unknown', async () => {
    const member = new FederationAcks({
      partners: [acme],
      us: 'org',
      outbox,
      acks: ledger,
      verifier: ed25519Verifier,
      concurrency: 10,
      clock: new ManualClock(Date.parse('2026-12-07T10:00:03Z')),
      logger: silentLogger(),
      unknownEventRetry: { delayMs: 2_000, maxDeliver: 3 },
    });
    const early = delivery(await receipt({ eventId: 'E2', msgId: 'E2' }));
    expect(await member.onDelivery(acme, early)).toBe('later');
    expect(early.calls).toEqual(['nak:2000']);
    expect(member.refusedCount('acme')).toBe(0);
    // The event arrives (its proposal reached this member): the redelivered receipt applies.
    await sendEvent('E2');
    const again = delivery(await receipt({ eventId: 'E2', msgId: 'E2' }));
    expect(await member.onDelivery(acme, { ...again, deliveryCount: 2 })).toBe('applied');
    // An event that never comes: counted at the last delivery.
    const last = delivery(await receipt({ eventId: 'NOPE', msgId: 'NOPE' }));
    expect(await member.onDelivery(acme, { ...last, deliveryCount: 3 })).toBe('unknown-event');
    expect(last.calls).toEqual(['ack']);
  });

  it('applies the receipts verified in one turn in one transaction, a repeat among them once', async () => {
    await sendEvent('E2');
    await sendEvent('E3');
    const batches: string[][] = [];
    const applyMany = ledger.applyMany.bind(ledger);
    ledger.applyMany = (list) => {
      batches.push(list.map((a) => a.eventId));
      return applyMany(list);
    };
    const ds = [
      delivery(await receipt({ eventId: 'E1' })),
      delivery(await receipt({ eventId: 'E2' })),
      delivery(await receipt({ eventId: 'E3' })),
      delivery(await receipt({ eventId: 'E2' })),
    ];
    const results = await Promise.all(ds.map((d) => acks.onDelivery(acme, d)));
    expect(results).toEqual(['applied', 'applied', 'applied', 'duplicate']);
    expect(batches).toEqual([['E1', 'E2', 'E3', 'E2']]);
    for (const d of ds) expect(d.calls).toEqual(['ack']);
    expect([...ledger.rows.keys()].sort()).toEqual(['E1', 'E2', 'E3']);
  });

  it('acks nothing of a batch whose transaction failed', async () => {
    await sendEvent('E2');
    ledger.applyMany = () => {
      throw new Error('disk full');
    };
    const ds = [delivery(await receipt({ eventId: 'E1' })), delivery(await receipt({ eventId: 'E2' }))];
    const results = await Promise.allSettled(ds.map((d) => acks.onDelivery(acme, d)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const d of ds) expect(d.calls).toEqual([]);
  });
});
