/**
 * A memory JetStream for unit tests of pure logic: a CommandPublisher and a StreamReader over
 * one array, with Nats-Msg-Id dedupe inside a configurable window, and scripted failures.
 * test/support/jetstream-contract.ts holds it to what the real adapters do on nats-server.
 */
import { NetSyncError } from '../../src/core/errors.js';
import type { StreamLocation } from '../../src/core/intent.js';
import type {
  CommandPublisher,
  ConnectionListener,
  ConnectionState,
  OutboundMessage,
  PublishResult,
  StreamReader,
} from '../../src/core/ports.js';
import { subjectMatches } from '../../src/nats/subject-filter.js';

export interface StoredMessage {
  seq: number;
  subject: string;
  msgId: string;
  headers: Record<string, string>;
  body: Uint8Array;
  storedAtMs: number;
}

/** What the next publishes do. `store-then-timeout` stores the message but loses the ack. */
export type FakeFault = 'timeout' | 'store-then-timeout' | 'disconnected' | 'no-stream' | 'ok';

export class FakeJetStream implements CommandPublisher, StreamReader {
  readonly messages: StoredMessage[] = [];
  state: ConnectionState = 'connected';
  /** Faults consumed one per publish, in order; then `defaultFault`. */
  faults: FakeFault[] = [];
  defaultFault: FakeFault = 'ok';
  publishCalls = 0;
  scans = 0;
  /** While set, every stream scan waits for it before it answers (a slow lookup: the answer is as of its start). */
  scanGate: Promise<void> | null = null;
  /** Subject patterns the one stream captures; a publish outside them is NATS_NO_STREAM. Null: every subject. */
  captures: string[] | null = null;
  private listeners = new Set<ConnectionListener>();

  constructor(
    private readonly now: () => number,
    private readonly duplicateWindowMs = 120_000,
  ) {}

  setState(state: ConnectionState): void {
    this.state = state;
    for (const l of this.listeners) l(state);
  }

  onState(listener: ConnectionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async publish(msg: OutboundMessage): Promise<PublishResult> {
    this.publishCalls++;
    await Promise.resolve();
    if (this.state !== 'connected')
      return {
        kind: 'failed',
        retryable: true,
        outcomeUnknown: false,
        code: 'NATS_DISCONNECTED',
        reason: 'not connected',
      };
    const fault = this.faults.shift() ?? this.defaultFault;
    if (fault === 'disconnected')
      return {
        kind: 'failed',
        retryable: true,
        outcomeUnknown: false,
        code: 'NATS_DISCONNECTED',
        reason: 'disconnected',
      };
    if (fault === 'timeout')
      return { kind: 'failed', retryable: true, outcomeUnknown: true, code: 'NATS_TIMEOUT', reason: 'timeout' };
    if (fault === 'no-stream' || (this.captures !== null && !this.captures.some((p) => subjectMatches(msg.subject, p))))
      return { kind: 'failed', retryable: false, outcomeUnknown: false, code: 'NATS_NO_STREAM', reason: 'no stream' };
    const dup = this.messages.find((m) => m.msgId === msg.msgId && this.now() - m.storedAtMs < this.duplicateWindowMs);
    if (dup !== undefined) return { kind: 'acked', stream: 'FAKE', seq: dup.seq, duplicate: true };
    const stored: StoredMessage = {
      seq: this.messages.length + 1,
      subject: msg.subject,
      msgId: msg.msgId,
      headers: msg.headers,
      body: msg.body,
      storedAtMs: this.now(),
    };
    this.messages.push(stored);
    if (fault === 'store-then-timeout')
      return { kind: 'failed', retryable: true, outcomeUnknown: true, code: 'NATS_TIMEOUT', reason: 'timeout' };
    return { kind: 'acked', stream: 'FAKE', seq: stored.seq, duplicate: false };
  }

  async findMsgIds(
    subject: string,
    sinceMs: number,
    msgIds: ReadonlySet<string>,
  ): Promise<Map<string, StreamLocation>> {
    this.scans++;
    // As JetStreamReader: no scan without a connection.
    if (this.state !== 'connected') throw new NetSyncError('NATS_DISCONNECTED', 'not connected to NATS');
    const out = new Map<string, StreamLocation>();
    for (const m of this.messages) {
      const inRange = m.storedAtMs >= sinceMs && subjectMatches(m.subject, subject);
      if (inRange && msgIds.has(m.msgId) && !out.has(m.msgId)) out.set(m.msgId, { stream: 'FAKE', seq: m.seq });
    }
    if (this.scanGate !== null) await this.scanGate;
    return out;
  }

  /** Count of messages per msgId, for oracles. */
  idCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of this.messages) counts.set(m.msgId, (counts.get(m.msgId) ?? 0) + 1);
    return counts;
  }
}
