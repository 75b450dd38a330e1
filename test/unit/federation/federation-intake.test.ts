import { verify } from 'node:crypto';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it } from 'vitest';
import { decodeEnvelope, pae } from '../../../src/core/dsse.js';
import { checkEventPayload, FEDERATION_EVENT_TYPE, keyedEventId } from '../../../src/core/federation-message.js';
import {
  createFederationMetrics,
  FederationIntake,
  type FederationIntakeOptions,
} from '../../../src/federation/index.js';
import { ed25519PublicKey, Ed25519Signer } from '../../../src/runtime/ed25519-keys.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';

const SUBJECT = 'root.solar.federation.outbound.events.acme';
let outbox: MemoryOutbox;
let clock: ManualClock;
let intake: FederationIntake;
let signer: Ed25519Signer;
let woken: string[];
let next = 0;
let options: FederationIntakeOptions;

beforeEach(async () => {
  const key = await generateKeyPair('Ed25519');
  signer = new Ed25519Signer(peerIdFromPrivateKey(key).toString(), key.raw);
  outbox = new MemoryOutbox();
  clock = new ManualClock(Date.parse('2026-12-07T10:00:00Z'));
  woken = [];
  options = {
    outbox,
    clock,
    name: 'org',
    origin: signer.keyid,
    partners: [{ name: 'acme', eventsSubject: SUBJECT }],
    maxPayloadBytes: 1_000,
    signers: [signer],
    newId: () => `01JEVENT${String(next++).padStart(18, '0')}`,
    randomHex: (n) => 'ab'.repeat(n),
    onAccepted: (id) => woken.push(id),
  };
  intake = new FederationIntake(options);
});

describe('FederationIntake', () => {
  it('stores one signed envelope per event, durable before it answers', async () => {
    const { eventId, state } = await intake.accept({ partner: 'acme', type: 'order.created', payload: { n: 1 } });
    expect(state).toBe('pending-commit');
    expect(woken).toEqual([eventId]);
    const row = outbox.get(eventId)!;
    expect(row.subject).toBe(SUBJECT);
    expect(row.headers['Net-Sync-Partner']).toBe('acme');
    const d = decodeEnvelope(row.body);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.envelope.payloadType).toBe(FEDERATION_EVENT_TYPE);
    const sig = d.envelope.signatures[0]!;
    expect(sig.keyid).toBe(signer.keyid);
    expect(verify(null, pae(FEDERATION_EVENT_TYPE, d.envelope.body), ed25519PublicKey(signer.keyid)!, sig.sig)).toBe(
      true,
    );
    const payload = checkEventPayload(JSON.parse(new TextDecoder().decode(d.envelope.body)));
    expect(payload).toEqual({
      ok: true,
      value: {
        schemaVersion: 1,
        eventId,
        from: 'org',
        to: 'acme',
        type: 'order.created',
        payload: { n: 1 },
        createdAt: '2026-12-07T10:00:00.000Z',
        origin: signer.keyid,
      },
    });
    expect(intake.view(eventId)).toEqual({ eventId, partner: 'acme', state: 'pending-commit' });
  });

  it('answers a retry under one key with the same event, and refuses another body under it', async () => {
    const body = { partner: 'acme', type: 'order.created', payload: { n: 1 } };
    const first = await intake.accept(body, undefined, 'order-42');
    expect(first.eventId).toBe(keyedEventId('order-42'));
    clock.advance(5_000);
    expect(await intake.accept(body, undefined, 'order-42')).toEqual(first);
    expect(outbox.counts('command')['pending-commit']).toBe(1);
    await expect(intake.accept({ ...body, payload: { n: 2 } }, undefined, 'order-42')).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
      field: 'idempotency-key',
    });
    expect(intake.viewByKey('order-42')?.eventId).toBe(first.eventId);
  });

  it('refuses a partner we may not send to, naming partner, and stores nothing', async () => {
    await expect(intake.accept({ partner: 'beta', type: 'a', payload: 1 })).rejects.toMatchObject({ field: 'partner' });
    expect(outbox.counts('command')['pending-commit']).toBe(0);
  });

  it('shows only outgoing events', async () => {
    expect(intake.view('nope')).toBeUndefined();
  });

  it('counts an event committed once, also one accepted before a restart', async () => {
    const registry = new Registry();
    const metrics = createFederationMetrics(registry);
    intake = new FederationIntake({ ...options, metrics });
    const a = await intake.accept({ partner: 'acme', type: 't', payload: 1 });
    const b = await intake.accept({ partner: 'acme', type: 't', payload: 2 });
    const restarted = new FederationIntake({ ...options, metrics });
    const ids = (...list: string[]) => list.map((correlationId) => ({ correlationId }));
    intake.committed(ids(a.eventId, 'some-command', a.eventId));
    restarted.committed(ids(b.eventId));
    const counted = (await registry.getSingleMetricAsString('net_sync_federation_events_total')).split('\n');
    expect(counted).toContain('net_sync_federation_events_total{partner="acme",result="committed"} 2');
  });
});
