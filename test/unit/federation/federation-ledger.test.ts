import { describe, expect, it } from 'vitest';
import { buildFederationEventRow } from '../../../src/core/federation-message.js';
import { FederationLedger } from '../../../src/federation/index.js';
import { MemoryAppliedAcks, MemoryReceivedEvents } from '../../support/memory-federation-ledger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { MemoryOutbox } from '../../support/memory-outbox.js';
import { newRow } from '../../support/outbox-contract.js';

const T0 = Date.parse('2026-12-07T10:00:00Z');

function eventRow(eventId: string, partner: string) {
  return buildFederationEventRow({
    eventId,
    partner,
    subject: `root.solar.federation.outbound.events.${partner}`,
    envelope: { payloadType: 't', payload: '', signatures: [] },
    origin: 'me',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    createdAtMs: T0,
  });
}

describe('FederationLedger', () => {
  it('counts per partner, lists gaps after the ack timeout and rejected events, across a restart', async () => {
    const outbox = new MemoryOutbox();
    const acks = new MemoryAppliedAcks();
    const received = new MemoryReceivedEvents();
    const clock = new ManualClock(T0);
    const partners = [
      { name: 'acme', send: true, receive: false },
      { name: 'beta', send: true, receive: true },
    ];
    const make = () =>
      new FederationLedger({
        partners,
        outbox,
        acks,
        received,
        ackTimeoutMs: 60_000,
        clock,
        acksRefused: (p) => (p === 'acme' ? 2 : 0),
        refused: (p) => (p === 'beta' ? 1 : 0),
      });
    const ledger = make();
    await outbox.append([
      eventRow('A1', 'acme'),
      eventRow('A2', 'acme'),
      eventRow('A3', 'acme'),
      eventRow('B1', 'beta'),
    ]);
    await outbox.append([newRow(1)]); // a command: not an event
    const committed = [
      { correlationId: 'A1', stream: 'FEDERATION', seq: 1 },
      { correlationId: 'A2', stream: 'FEDERATION', seq: 2 },
      { correlationId: 'A3', stream: 'FEDERATION', seq: 3 },
      { correlationId: 'B1', stream: 'FEDERATION', seq: 4 },
      { correlationId: newRow(1).correlationId, stream: 'COMMANDS', seq: 1 },
    ];
    outbox.markCommitted(committed, T0);
    ledger.committed(committed);
    const applied = { signers: ['k'], ackMsgId: 'x', appliedAtMs: T0 + 1_000 };
    acks.apply({ eventId: 'A1', partner: 'acme', status: 'accepted', ...applied });
    ledger.acked('A1');
    acks.apply({ eventId: 'A2', partner: 'acme', status: 'rejected', reason: 'bad-signature', ...applied });
    ledger.acked('A2');
    received.record({
      partner: 'beta',
      eventId: 'R1',
      digest: 'd',
      msgId: 'R1',
      stream: 'FEDERATION',
      streamSeq: 9,
      state: 'delivered',
      receivedAtMs: T0,
    });

    clock.advance(30_000);
    expect(ledger.status()).toEqual({
      partners: [
        {
          name: 'acme',
          send: true,
          receive: false,
          sent: 3,
          acked: 1,
          rejected: 1,
          unacked: 1,
          oldestUnackedAgeMs: 30_000,
          lastAckAt: '2026-12-07T10:00:01.000Z',
          acksRefused: 2,
          received: 0,
          refused: 0,
        },
        {
          name: 'beta',
          send: true,
          receive: true,
          sent: 1,
          acked: 0,
          rejected: 0,
          unacked: 1,
          oldestUnackedAgeMs: 30_000,
          acksRefused: 0,
          received: 1,
          refused: 1,
        },
      ],
      gaps: [],
      rejected: [{ partner: 'acme', eventId: 'A2', reason: 'bad-signature' }],
    });
    clock.advance(30_000);
    expect(ledger.status().gaps).toEqual([
      { partner: 'acme', eventId: 'A3', streamSeq: 3, ageMs: 60_000 },
      { partner: 'beta', eventId: 'B1', streamSeq: 4, ageMs: 60_000 },
    ]);
    // One partner only; and a new ledger (a restart) reads the same from the outbox and the acks.
    const again = make().status('beta');
    expect(again.partners.map((p) => p.name)).toEqual(['beta']);
    expect(again.gaps).toEqual([{ partner: 'beta', eventId: 'B1', streamSeq: 4, ageMs: 60_000 }]);
    expect(again.rejected).toEqual([]);
    expect(make().waiting('acme')).toEqual({ unacked: 1, oldestAgeMs: 60_000 });
  });

  it("tells events from the committer's headers without reading the outbox", () => {
    const outbox = new MemoryOutbox();
    let reads = 0;
    const get = outbox.get.bind(outbox);
    outbox.get = (id) => {
      reads++;
      return get(id);
    };
    const clock = new ManualClock(T0);
    const acks = new MemoryAppliedAcks();
    // E2's receipt was applied before its commit was announced: it never waits.
    acks.apply({ eventId: 'E2', partner: 'acme', status: 'accepted', signers: ['k'], ackMsgId: 'x', appliedAtMs: T0 });
    const ledger = new FederationLedger({
      partners: [{ name: 'acme', send: true, receive: false }],
      outbox,
      acks,
      received: null,
      ackTimeoutMs: 1_000,
      clock,
      acksRefused: () => 0,
      refused: () => 0,
    });
    const event = eventRow('E1', 'acme');
    ledger.committed([
      { correlationId: 'E1', seq: 7, headers: event.headers },
      { correlationId: 'E2', seq: 10, headers: eventRow('E2', 'acme').headers },
      { correlationId: 'C1', seq: 8, headers: newRow(1).headers },
      { correlationId: 'K1', seq: 9, headers: { 'Net-Sync-Kind': 'federation-ack' } },
    ]);
    expect(reads).toBe(0);
    clock.advance(1_000);
    expect(ledger.status().gaps).toEqual([{ partner: 'acme', eventId: 'E1', streamSeq: 7, ageMs: 1_000 }]);
  });
});
