import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/digest.js';
import { base64Encode, decodeEnvelope, encodeEnvelope } from '../../../src/core/dsse.js';
import {
  checkAckPayload,
  eventPayloadBytes,
  FEDERATION_ACK_TYPE,
  FEDERATION_EVENT_TYPE,
  type FederationAckPayload,
} from '../../../src/core/federation-message.js';
import { signEnvelope } from '../../../src/core/federation-trust.js';
import type { AgentAnswer, InboxDelivery } from '../../../src/core/inbox.js';
import {
  createFederationMetrics,
  type FederationDelivery,
  FederationReceiver,
  type FederationMetrics,
  type ReceivePartner,
} from '../../../src/federation/index.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ed25519Verifier, Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';
import { MemoryReceivedEvents } from '../../support/memory-federation-ledger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryInboxSource } from '../../support/memory-inbox-source.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';

const ACKS = 'root.solar.federation.inbound.acks.acme';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let orgSigner: Ed25519Signer;
let acmeSigner: Ed25519Signer;
let strangerSigner: Ed25519Signer;
let outbox: MemoryOutbox;
let received: MemoryReceivedEvents;
let journal: string[];
let answers: AgentAnswer[];
let pushed: FederationDelivery[];
let receiver: FederationReceiver;
let partner: ReceivePartner;
let metrics: FederationMetrics;
let registry: Registry;

async function signer(): Promise<Ed25519Signer> {
  const key = await generateKeyPair('Ed25519');
  return new Ed25519Signer(peerIdFromPrivateKey(key).toString(), key.raw);
}

function eventBytes(eventId: string, over: Record<string, unknown> = {}): Uint8Array {
  const e = {
    schemaVersion: 1 as const,
    eventId,
    from: 'org',
    to: 'acme',
    type: 'order.created',
    payload: { n: 1 },
    createdAt: '2026-12-07T10:00:00.000Z',
    origin: orgSigner.keyid,
    ...over,
  };
  return eventPayloadBytes(e as never);
}

async function envelope(body: Uint8Array, by: Ed25519Signer[] = [orgSigner]): Promise<Uint8Array> {
  return encodeEnvelope(await signEnvelope(FEDERATION_EVENT_TYPE, body, by));
}

/** A delivery of raw bytes, recording its acknowledgements in `calls`. */
function delivery(
  data: Uint8Array,
  streamSeq: number,
  msgId: string | undefined,
  deliveryCount = 1,
): InboxDelivery & { calls: string[] } {
  const calls: string[] = [];
  return {
    stream: 'FEDERATION',
    streamSeq,
    subject: 'root.solar.federation.outbound.events.acme',
    data,
    headers: msgId === undefined ? {} : { 'Nats-Msg-Id': msgId },
    deliveryCount,
    publishedAtMs: Date.parse('2026-12-07T10:00:01Z'),
    consumer: 'fed-test',
    ackSubject: '',
    calls,
    ack: async () => {
      calls.push('ack');
      journal.push('ack');
      return true;
    },
    nak: (ms) => calls.push(`nak:${ms}`),
    term: (reason) => calls.push(`term:${reason}`),
    working: () => undefined,
  };
}

function receipts(): Array<{ id: string; ack: FederationAckPayload; signers: string[] }> {
  return outbox.listByState(['pending-commit'], 1_000).map((r) => {
    const d = decodeEnvelope(r.body);
    if (!d.ok) throw new Error(d.message);
    expect(d.envelope.payloadType).toBe(FEDERATION_ACK_TYPE);
    const checked = checkAckPayload(JSON.parse(decoder.decode(d.envelope.body)));
    if (!checked.ok) throw new Error(checked.message);
    expect(r.subject).toBe(ACKS);
    expect(r.headers['Net-Sync-Kind']).toBe('federation-ack');
    expect(r.headers['Nats-Msg-Id'] ?? r.headers['Net-Sync-Correlation-Id']).toBe(r.correlationId);
    return { id: r.correlationId, ack: checked.value, signers: d.envelope.signatures.map((s) => s.keyid) };
  });
}

async function count(result: string, reason: string): Promise<number> {
  return (await metrics.inbound.get()).values
    .filter((v) => v.labels['result'] === result && v.labels['reason'] === reason)
    .reduce((s, v) => s + v.value, 0);
}

beforeEach(async () => {
  orgSigner ??= await signer();
  acmeSigner ??= await signer();
  strangerSigner ??= await signer();
  outbox = new MemoryOutbox();
  journal = [];
  received = new MemoryReceivedEvents(journal);
  answers = [];
  pushed = [];
  registry = new Registry();
  metrics = createFederationMetrics(registry);
  partner = {
    name: 'org',
    keys: [{ id: orgSigner.keyid }],
    threshold: 1,
    source: new MemoryInboxSource(),
    acksSubject: ACKS,
  };
  const appendOrig = outbox.append.bind(outbox);
  outbox.append = (rows) => {
    journal.push(`receipt:${rows.map((r) => r.correlationId).join(',')}`);
    return appendOrig(rows);
  };
  receiver = new FederationReceiver({
    partners: [partner],
    us: 'acme',
    origin: acmeSigner.keyid,
    received,
    outbox,
    signers: [acmeSigner],
    verifier: ed25519Verifier,
    pusher: {
      push: async (event) => {
        pushed.push(event);
        journal.push(`push:${event.eventId}`);
        return answers.shift() ?? { kind: 'response', status: 204, body: undefined };
      },
    },
    settings: { ackWaitMs: 5_000, maxDeliver: 3, maxAckPending: 10, backoffMs: [100, 200], processingTimeoutMs: 5_000 },
    clock: new ManualClock(Date.parse('2026-12-07T10:00:02Z')),
    logger: silentLogger(),
    randomHex: (n) => 'ab'.repeat(n),
    onReceipt: () => undefined,
    metrics,
  });
});

describe('FederationReceiver', () => {
  it('records, queues the accepted receipt, pushes once, then acks', async () => {
    const body = eventBytes('E1');
    const d = delivery(await envelope(body), 7, 'E1');
    await receiver.onDelivery(partner, d);
    const digest = sha256Hex(body);
    const ackId = `ack-E1-${digest.slice(0, 16)}`;
    expect(journal).toEqual(['record:E1', `receipt:${ackId}`, 'push:E1', 'settle:E1:delivered', 'ack']);
    expect(d.calls).toEqual(['ack']);
    expect(pushed).toEqual([
      {
        eventId: 'E1',
        from: 'org',
        type: 'order.created',
        payload: { n: 1 },
        createdAt: '2026-12-07T10:00:00.000Z',
        signers: [orgSigner.keyid],
        streamSeq: 7,
      },
    ]);
    const [r] = receipts();
    expect(r).toMatchObject({
      id: ackId,
      signers: [acmeSigner.keyid],
      ack: { schemaVersion: 1, eventId: 'E1', msgId: 'E1', digest, status: 'accepted', from: 'acme', to: 'org' },
    });
    expect(r!.ack.reason).toBeUndefined();
    expect(await count('accepted', 'none')).toBe(1);
    expect(receiver.tally('org')).toEqual({ received: 1, refused: 0 });
  });

  it('absorbs a redelivery and a byte copy under another message ID: one push, one receipt', async () => {
    const data = await envelope(eventBytes('E1'));
    await receiver.onDelivery(partner, delivery(data, 7, 'E1'));
    const again = delivery(data, 7, 'E1', 2);
    await receiver.onDelivery(partner, again);
    const copy = delivery(data, 9, 'COPY');
    await receiver.onDelivery(partner, copy);
    expect(again.calls).toEqual(['ack']);
    expect(copy.calls).toEqual(['ack']);
    expect(pushed.length).toBe(1);
    expect(receipts().length).toBe(1);
    expect(await count('duplicate', 'redelivery')).toBe(1);
    expect(await count('duplicate', 'copy')).toBe(1);
  });

  it('decides deliveries judged together as one batch: one record write, one append, copies absorbed', async () => {
    const [a, b] = [await envelope(eventBytes('E1')), await envelope(eventBytes('E2'))];
    const forged = await envelope(eventBytes('E3'), [strangerSigner]);
    const equivocal = await envelope(eventBytes('E1', { payload: { n: 2 } }));
    const ds = [
      delivery(a, 1, 'E1'),
      delivery(b, 2, 'E2'),
      delivery(a, 3, 'COPY'),
      delivery(forged, 4, 'E3'),
      delivery(equivocal, 5, 'E1'),
    ];
    await Promise.all(ds.map((d) => receiver.onDelivery(partner, d)));
    // One append holding every receipt of the batch, after both records.
    const appends = journal.filter((j) => j.startsWith('receipt:'));
    expect(appends.length).toBe(1);
    expect(appends[0]!.split(',').length).toBe(4);
    expect(journal.indexOf('record:E2')).toBeLessThan(journal.indexOf(appends[0]!));
    expect(ds.map((d) => d.calls)).toEqual([['ack'], ['ack'], ['ack'], ['term:untrusted-key'], ['term:equivocation']]);
    expect(pushed.map((e) => e.eventId).sort()).toEqual(['E1', 'E2']);
    // In the order verification finished (an untrusted key needs none), as before batching.
    expect(
      receipts()
        .map((r) => [r.ack.msgId, r.ack.status, r.ack.reason].join(' '))
        .sort(),
    ).toEqual(['E1 accepted ', 'E1 rejected equivocation', 'E2 accepted ', 'E3 rejected untrusted-key']);
    expect(await count('duplicate', 'copy')).toBe(1);
    expect(receiver.tally('org')).toEqual({ received: 2, refused: 2 });
  });

  it('refuses a bare payload whose digest is that of a recorded event: only an envelope is a copy', async () => {
    const body = eventBytes('E1');
    await receiver.onDelivery(partner, delivery(await envelope(body), 7, 'E1'));
    const bare = delivery(body, 8, 'BARE');
    await receiver.onDelivery(partner, bare);
    expect(bare.calls).toEqual(['term:malformed']);
    expect(
      receipts()
        .filter((r) => r.ack.status === 'rejected')
        .map((r) => r.ack.msgId),
    ).toEqual(['BARE']);
  });

  it('pushes again a recorded event the agent did not take yet (a crash before the push)', async () => {
    const data = await envelope(eventBytes('E1'));
    answers.push({ kind: 'unreachable', reason: 'ECONNREFUSED' });
    const first = delivery(data, 7, 'E1');
    await receiver.onDelivery(partner, first);
    expect(first.calls).toEqual(['nak:100']);
    const second = delivery(data, 7, 'E1', 2);
    await receiver.onDelivery(partner, second);
    expect(second.calls).toEqual(['ack']);
    expect(pushed.length).toBe(2);
    expect(received.get('org', 'E1')?.state).toBe('delivered');
    expect(receipts().length).toBe(1);
  });

  it('settles DROP and running out of deliveries with a term, the event kept in the record', async () => {
    answers.push({ kind: 'response', status: 200, body: { status: 'DROP' } });
    const dropped = delivery(await envelope(eventBytes('E1')), 7, 'E1');
    await receiver.onDelivery(partner, dropped);
    expect(dropped.calls).toEqual(['term:agent answered DROP']);
    expect(received.get('org', 'E1')?.state).toBe('dropped');
    answers.push({ kind: 'response', status: 503, body: undefined });
    const last = delivery(await envelope(eventBytes('E2')), 8, 'E2', 3);
    await receiver.onDelivery(partner, last);
    expect(last.calls).toEqual(['term:agent answered 503']);
    expect(received.get('org', 'E2')?.state).toBe('dead');
  });

  it('decides many deliveries together but pushes at most maxPushes at once, in the order decided', async () => {
    let open = 0;
    let most = 0;
    const order: string[] = [];
    const narrow = new FederationReceiver({
      partners: [partner],
      us: 'acme',
      origin: acmeSigner.keyid,
      received,
      outbox,
      signers: [acmeSigner],
      verifier: ed25519Verifier,
      pusher: {
        push: async (event) => {
          open++;
          most = Math.max(most, open);
          order.push(event.eventId);
          await new Promise((r) => setTimeout(r, 2));
          open--;
          return { kind: 'response', status: 204, body: undefined };
        },
      },
      settings: {
        ackWaitMs: 5_000,
        maxDeliver: 3,
        maxAckPending: 20,
        maxPushes: 1,
        backoffMs: [100],
        processingTimeoutMs: 5_000,
      },
      clock: new ManualClock(Date.parse('2026-12-07T10:00:02Z')),
      logger: silentLogger(),
      randomHex: (n) => 'ab'.repeat(n),
      onReceipt: () => undefined,
    });
    const ids = Array.from({ length: 8 }, (_, i) => `P${i}`);
    const ds = await Promise.all(ids.map(async (id, i) => delivery(await envelope(eventBytes(id)), i + 1, id)));
    await Promise.all(ds.map((d) => narrow.onDelivery(partner, d)));
    expect(most).toBe(1);
    expect(order).toEqual(ids);
    expect(ds.map((d) => d.calls)).toEqual(ids.map(() => ['ack']));
    // One batch: one append for the eight receipts.
    expect(journal.filter((j) => j.startsWith('receipt:')).length).toBe(1);
  });

  it('refuses each forgery with one signed rejected receipt naming its reason, never pushing it', async () => {
    const cases: Array<[string, Uint8Array, string | undefined, string]> = [
      [
        'unsigned',
        encodeEnvelope({ payloadType: FEDERATION_EVENT_TYPE, payload: base64Encode(eventBytes('U1')), signatures: [] }),
        'U1',
        'below-threshold',
      ],
      ['unknown key', await envelope(eventBytes('K1'), [strangerSigner]), 'K1', 'untrusted-key'],
      ['wrong recipient', await envelope(eventBytes('R1', { to: 'beta' })), 'R1', 'wrong-recipient'],
      ['wrong sender', await envelope(eventBytes('S1', { from: 'beta' })), 'S1', 'wrong-sender'],
      ['id mismatch', await envelope(eventBytes('M1')), 'OTHER', 'id-mismatch'],
      ['not JSON', encoder.encode('not json'), 'J1', 'malformed'],
      ['no message ID, not JSON', encoder.encode('{'), undefined, 'malformed'],
    ];
    let seq = 100;
    for (const [name, data, msgId, reason] of cases) {
      const d = delivery(data, ++seq, msgId);
      await receiver.onDelivery(partner, d);
      expect(d.calls, name).toEqual([`term:${reason}`]);
      expect(await count('refused', reason), name).toBeGreaterThanOrEqual(1);
    }
    const got = receipts();
    expect(got.length).toBe(cases.length);
    for (const [i, [name, data, msgId, reason]] of cases.entries()) {
      const r = got[i]!;
      const d = decodeEnvelope(data);
      const digest = sha256Hex(d.ok ? d.envelope.body : data);
      const name2 = msgId ?? `FEDERATION:${101 + i}`;
      expect(r.ack, name).toMatchObject({ status: 'rejected', reason, msgId: name2, digest, from: 'acme', to: 'org' });
      expect(r.id, name).toBe(`ack-${name2}-${digest.slice(0, 16)}`);
      expect(r.signers, name).toEqual([acmeSigner.keyid]);
    }
    // The eventId of a readable payload, else the message's name.
    expect(got[1]!.ack.eventId).toBe('K1');
    expect(got[5]!.ack.eventId).toBe('J1');
    expect(pushed).toEqual([]);
    expect(received.rows.size).toBe(0);
    expect(receiver.tally('org').refused).toBe(cases.length);
  });

  it('refuses an accepted event ID with another digest as equivocation, keeping the first', async () => {
    await receiver.onDelivery(partner, delivery(await envelope(eventBytes('E1')), 7, 'E1'));
    const other = eventBytes('E1', { payload: { n: 2 } });
    const d = delivery(await envelope(other), 8, 'E1');
    await receiver.onDelivery(partner, d);
    expect(d.calls).toEqual(['term:equivocation']);
    expect(pushed.length).toBe(1);
    const rejected = receipts().filter((r) => r.ack.status === 'rejected');
    expect(rejected).toEqual([
      expect.objectContaining({
        ack: expect.objectContaining({ eventId: 'E1', reason: 'equivocation', digest: sha256Hex(other) }),
      }),
    ]);
    // Redelivered (a crash before the term): the same receipt row, not a second.
    await receiver.onDelivery(partner, delivery(await envelope(other), 8, 'E1', 2));
    expect(receipts().filter((r) => r.ack.status === 'rejected').length).toBe(1);
  });

  it('judges key windows at the time our stream stored the message', async () => {
    partner = { ...partner, keys: [{ id: orgSigner.keyid, notAfterMs: Date.parse('2026-12-07T10:00:00Z') }] };
    const d = delivery(await envelope(eventBytes('E1')), 7, 'E1');
    await receiver.onDelivery(partner, d);
    expect(d.calls).toEqual(['term:retired-key']);
  });
});
