/**
 * The JetStream contract the committer relies on (`CommandPublisher` + `StreamReader`), as a
 * shared vitest suite run against every implementation: the JetStream adapters on a real
 * nats-server in integration, `FakeJetStream` in unit, so the fake cannot drift.
 */
import { describe, expect, it } from 'vitest';
import { hasCode } from '../../src/core/errors.js';
import type { CommandPublisher, ConnectionState, OutboundMessage, StreamReader } from '../../src/core/ports.js';
import { waitFor } from './wait-for.js';

/** One stream, capturing `<prefix>.>`, with its publisher and reader. */
export interface JetStreamFixture {
  publisher: CommandPublisher;
  reader: StreamReader;
  /** The stream's name, as PubAcks and lookups report it. */
  stream: string;
  /** The stream captures `<prefix>.>` and nothing else. */
  prefix: string;
  /** Takes the server away and waits until the publisher reports it. */
  disconnect(): Promise<void>;
  /** Brings it back and waits until the publisher is connected again. */
  reconnect(): Promise<void>;
}

/** Creates a fresh, empty stream for one test; disposal is the factory's (per-test fixtures). */
export type JetStreamFactory = (opts: { duplicateWindowMs: number }) => Promise<JetStreamFixture>;

let n = 0;
/** A message as the pass sends it: `Nats-Msg-Id` is the correlation ID. */
function message(subject: string, msgId = `ct-${++n}`): OutboundMessage {
  return {
    subject,
    body: new TextEncoder().encode(JSON.stringify({ msgId })),
    msgId,
    headers: { 'Net-Sync-Correlation-Id': msgId },
  };
}

// Lets the wall clock move on, so that stored times on either side of a `sinceMs` differ.
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

/** Registers the contract suite for one implementation. */
export function describeJetStreamContract(name: string, factory: JetStreamFactory): void {
  describe(`JetStream contract: ${name}`, () => {
    const make = (duplicateWindowMs = 120_000): Promise<JetStreamFixture> => factory({ duplicateWindowMs });

    it('acks each new message with the stream and the next sequence, in the order of the publishes', async () => {
      const js = await make();
      const msgs = [message(`${js.prefix}.a`), message(`${js.prefix}.b`), message(`${js.prefix}.a`)];
      // The pass does not wait for one PubAck before the next publish: a window is in flight.
      const acks = await Promise.all(msgs.map((m) => js.publisher.publish(m)));
      expect(acks).toEqual([1, 2, 3].map((seq) => ({ kind: 'acked', stream: js.stream, seq, duplicate: false })));
      const found = await js.reader.findMsgIds(`${js.prefix}.a`, 0, new Set([msgs[0]!.msgId, msgs[2]!.msgId]));
      expect(found).toEqual(
        new Map([
          [msgs[0]!.msgId, { stream: js.stream, seq: 1 }],
          [msgs[2]!.msgId, { stream: js.stream, seq: 3 }],
        ]),
      );
    });

    it('a Nats-Msg-Id repeated in the window: duplicate PubAck, first sequence, any subject, stored once', async () => {
      const js = await make();
      const first = message(`${js.prefix}.a`);
      expect(await js.publisher.publish(first)).toEqual({ kind: 'acked', stream: js.stream, seq: 1, duplicate: false });
      expect(await js.publisher.publish(first)).toEqual({ kind: 'acked', stream: js.stream, seq: 1, duplicate: true });
      const elsewhere = { ...message(`${js.prefix}.b`), msgId: first.msgId };
      expect(await js.publisher.publish(elsewhere)).toEqual({
        kind: 'acked',
        stream: js.stream,
        seq: 1,
        duplicate: true,
      });
      expect(await js.publisher.publish(message(`${js.prefix}.a`))).toMatchObject({ seq: 2, duplicate: false });
      const ids = new Set([first.msgId]);
      expect(await js.reader.findMsgIds(`${js.prefix}.a`, 0, ids)).toEqual(
        new Map([[first.msgId, { stream: js.stream, seq: 1 }]]),
      );
      expect((await js.reader.findMsgIds(`${js.prefix}.b`, 0, ids)).size, 'the duplicate was not stored').toBe(0);
    });

    it('past the duplicate window the same ID is stored again, and a lookup finds the first copy', async () => {
      const js = await make(1_000);
      const m = message(`${js.prefix}.a`);
      expect(await js.publisher.publish(m)).toMatchObject({ seq: 1, duplicate: false });
      let again = await js.publisher.publish(m);
      expect(again).toMatchObject({ seq: 1, duplicate: true });
      await waitFor(
        async () => {
          again = await js.publisher.publish(m);
          return again.kind === 'acked' && !again.duplicate;
        },
        `${m.msgId} stored again once the 1 s window passed`,
        10_000,
        100,
      );
      expect(again).toEqual({ kind: 'acked', stream: js.stream, seq: 2, duplicate: false });
      expect(await js.reader.findMsgIds(`${js.prefix}.a`, 0, new Set([m.msgId]))).toEqual(
        new Map([[m.msgId, { stream: js.stream, seq: 1 }]]),
      );
    });

    it('findMsgIds answers the requested IDs on that subject (wildcards too), from sinceMs on', async () => {
      const js = await make();
      const before = message(`${js.prefix}.a`);
      const after = message(`${js.prefix}.a`);
      const other = message(`${js.prefix}.b`);
      await js.publisher.publish(before);
      await tick();
      const sinceMs = Date.now();
      await tick();
      await js.publisher.publish(after);
      await js.publisher.publish(other);
      const all = new Set([before.msgId, after.msgId, other.msgId, 'ct-missing']);
      const at = (seq: number) => ({ stream: js.stream, seq });
      expect(await js.reader.findMsgIds(`${js.prefix}.a`, 0, all)).toEqual(
        new Map([
          [before.msgId, at(1)],
          [after.msgId, at(2)],
        ]),
      );
      expect(await js.reader.findMsgIds(`${js.prefix}.a`, sinceMs, all)).toEqual(new Map([[after.msgId, at(2)]]));
      expect(await js.reader.findMsgIds(`${js.prefix}.>`, sinceMs, all)).toEqual(
        new Map([
          [after.msgId, at(2)],
          [other.msgId, at(3)],
        ]),
      );
      expect((await js.reader.findMsgIds(`${js.prefix}.a`, 0, new Set())).size).toBe(0);
      expect((await js.reader.findMsgIds(`${js.prefix}.a`, Date.now() + 60_000, all)).size).toBe(0);
    });

    it('no stream captures the subject: a permanent NATS_NO_STREAM, nothing stored', async () => {
      const js = await make();
      const stray = message(`${js.prefix}x.a`);
      expect(await js.publisher.publish(stray)).toMatchObject({
        kind: 'failed',
        retryable: false,
        outcomeUnknown: false,
        code: 'NATS_NO_STREAM',
      });
      expect(await js.publisher.publish(message(`${js.prefix}.a`))).toMatchObject({ seq: 1 });
    });

    it('disconnected: NATS_DISCONNECTED, nothing sent, lookups refused; back: acked, onState says so', async () => {
      const js = await make();
      const seen: ConnectionState[] = [];
      const off = js.publisher.onState((s) => seen.push(s));
      expect(js.publisher.state).toBe('connected');
      await js.publisher.publish(message(`${js.prefix}.a`));
      await js.disconnect();
      expect(js.publisher.state).not.toBe('connected');
      const down = message(`${js.prefix}.a`);
      expect(await js.publisher.publish(down)).toMatchObject({
        kind: 'failed',
        retryable: true,
        outcomeUnknown: false,
        code: 'NATS_DISCONNECTED',
      });
      const refused = await js.reader.findMsgIds(`${js.prefix}.a`, 0, new Set([down.msgId])).then(
        () => null,
        (err: unknown) => err,
      );
      expect(hasCode(refused, 'NATS_DISCONNECTED'), String(refused)).toBe(true);
      await js.reconnect();
      expect(js.publisher.state).toBe('connected');
      expect(seen[0]).not.toBe('connected');
      expect(seen.at(-1)).toBe('connected');
      off();
      // A restarted server may answer 503 while its stream recovers: retry as the committer would.
      let back = await js.publisher.publish(down);
      await waitFor(
        async () => {
          if (back.kind === 'failed' && back.retryable) back = await js.publisher.publish(down);
          return back.kind === 'acked' || !back.retryable;
        },
        `${down.msgId} acked after the reconnect`,
        10_000,
        100,
      );
      expect(back, 'the publish made while disconnected was never stored').toEqual({
        kind: 'acked',
        stream: js.stream,
        seq: 2,
        duplicate: false,
      });
    });
  });
}
