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
import { sha256Hex } from '../../../src/core/digest.js';
import { ackPayloadBytes, eventDigest } from '../../../src/core/federation-receipt.js';
import { signEnvelope } from '../../../src/core/federation-trust.js';
import type { InboxDelivery } from '../../../src/core/inbox.js';
import {
  type AckPartner,
  createFederationMetrics,
  FederationAcks,
  type OurStoredEvents,
} from '../../../src/federation/index.js';
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

function eventBody(eventId: string, partner = 'acme', createdAt = '2026-12-07T10:00:00.000Z'): Uint8Array {
  return eventPayloadBytes({
    schemaVersion: 1,
    eventId,
    from: 'org',
    to: partner,
    type: 't',
    payload: { eventId },
    createdAt,
    origin: orgSigner.keyid,
  });
}

async function sendEvent(eventId: string, partner = 'acme', signers = [orgSigner], createdAt?: string): Promise<void> {
  const body = eventBody(eventId, partner, createdAt);
  const row = buildFederationEventRow({
    eventId,
    partner,
    subject: `root.solar.federation.outbound.events.${partner}`,
    envelope: await signEnvelope(FEDERATION_EVENT_TYPE, body, signers),
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

  describe('with consensus on, a receipt checked against our stream', () => {
    let org2: Ed25519Signer;
    let stored: Map<string, Uint8Array>;
    let reads: Array<{ subject: string; msgId: string; sinceMs: number }>;
    let failing: boolean;
    let member: FederationAcks;
    const storedEvent = async (eventId: string, signers: Ed25519Signer[], partner = 'acme', createdAt?: string) => {
      const body = eventBody(eventId, partner, createdAt);
      stored.set(eventId, encodeEnvelope(await signEnvelope(FEDERATION_EVENT_TYPE, body, signers)));
      return sha256Hex(body);
    };
    const acmeHere = (): AckPartner => ({ ...acme, eventsSubject: 'root.solar.federation.outbound.events.acme' });

    beforeEach(async () => {
      org2 ??= await signer();
      stored = new Map();
      reads = [];
      failing = false;
      const ours: OurStoredEvents = {
        signers: [{ id: orgSigner.keyid }, { id: org2.keyid }],
        threshold: 2,
        first: async (subject, msgId, sinceMs) => {
          reads.push({ subject, msgId, sinceMs });
          if (failing) throw new Error('NATS away');
          const data = stored.get(msgId);
          return data === undefined ? undefined : { data, timeMs: Date.parse('2026-12-07T10:00:00.500Z') };
        },
      };
      member = new FederationAcks({
        partners: [acmeHere()],
        us: 'org',
        outbox,
        acks: ledger,
        verifier: ed25519Verifier,
        concurrency: 10,
        clock: new ManualClock(Date.parse('2026-12-07T10:00:03Z')),
        logger: silentLogger(),
        unknownEventRetry: { delayMs: 2_000, maxDeliver: 3 },
        stored: ours,
      });
    });

    it('never applies, from the stream, the receipt of an event this member never held', async () => {
      // Signed by two keys this member trusts (one may be retired in a config it has not reloaded):
      // still not an event it knows the cohort committed.
      const digest = await storedEvent('E5', [orgSigner, org2]);
      const last = delivery(await receipt({ eventId: 'E5', msgId: 'E5', digest }));
      expect(await member.onDelivery(acmeHere(), { ...last, deliveryCount: 3 })).toBe('unknown-event');
      expect(reads).toEqual([]);
      expect(ledger.rows.size).toBe(0);
    });

    it('keeps a digest mismatch when the stored event is not ours, not to this partner, or has another digest', async () => {
      const cases: Array<[string, string, Ed25519Signer[], string, (d: string) => string]> = [
        ['one signature of two', 'N1', [orgSigner], 'acme', (d) => d],
        ['to another partner', 'N2', [orgSigner, org2], 'beta', (d) => d],
        ['another digest', 'N3', [orgSigner, org2], 'acme', (d) => d.replace(/^./, (c) => (c === '0' ? '1' : '0'))],
      ];
      for (const [name, id, by, to, digestOf] of cases) {
        await sendEvent(id, 'acme', [orgSigner], '2026-12-07T10:00:00.200Z');
        const digest = digestOf(await storedEvent(id, by, to));
        const d = delivery(await receipt({ eventId: id, msgId: id, digest }));
        expect(await member.onDelivery(acmeHere(), d), name).toBe('digest-mismatch');
      }
      expect(reads.map((r) => r.msgId)).toEqual(['N1', 'N2', 'N3']);
      expect(ledger.rows.size).toBe(0);
    });

    it('applies the receipt of a keyed event whose other copy was committed (digest of the stored one)', async () => {
      // This member's copy of E6 (its own proposal of the same key, created a moment later) lost the race.
      await sendEvent('E6', 'acme', [orgSigner], '2026-12-07T10:00:00.200Z');
      const committed = await storedEvent('E6', [orgSigner, org2]);
      expect(committed).not.toBe(digests.get('E6'));
      const d = delivery(await receipt({ eventId: 'E6', msgId: 'E6', digest: committed }));
      expect(await member.onDelivery(acmeHere(), d)).toBe('applied');
      expect(reads.map((r) => r.sinceMs)).toEqual([0]); // from its copy's creation (ms 1) less a minute
      // A receipt with a digest matching neither stays a digest mismatch.
      await sendEvent('E7');
      await storedEvent('E7', [orgSigner, org2], 'acme', '2026-12-07T10:00:00.300Z');
      const wrong = delivery(await receipt({ eventId: 'E7', msgId: 'E7', digest: '0'.repeat(64) }));
      expect(await member.onDelivery(acmeHere(), wrong)).toBe('digest-mismatch');
    });

    it('reads the receipt again later when our stream cannot be read', async () => {
      await sendEvent('E8');
      failing = true;
      const d = delivery(await receipt({ eventId: 'E8', msgId: 'E8', digest: '0'.repeat(64) }));
      expect(await member.onDelivery(acmeHere(), d)).toBe('later');
      expect(d.calls).toEqual(['nak:2000']);
      expect(member.refusedCount('acme')).toBe(0);
    });
  });
});
