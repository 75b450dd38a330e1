/**
 * Pipelined publishing on one connection, as close to the wire as nats.js allows: each message is
 * a core publish whose reply subject is `<inbox>.<n>`, every PubAck arrives on ONE wildcard
 * subscription, and the messages awaiting one wait in a ring indexed by n. This is what
 * `js.publish()` does underneath, minus its per-message request object, promise, timer,
 * cancellation error (with a stack trace) and abort listener: one timeout sweep and one abort
 * listener per signal serve every message in flight, and an ordinary PubAck is read without
 * `JSON.parse` (wire-format.ts). Outcomes mirror `js.publish()`: a PubAck or its API error, a 503
 * (no responders), a publish permission error (matched by subject, oldest first, as nats.js
 * does), a synchronous refusal (max_payload), a timeout, a closed connection.
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type NatsError, type Subscription } from 'nats';
import type { OutboundMessage, PublishResult } from '../core/ports.js';
import { classifyPublishError, type PublishFailure } from './classify-publish-error.js';
import { readPubAck, StreamNames } from './wire-format.js';

/** A publish's outcome before a 503 is judged (it needs a stream lookup). */
export type Outcome = PublishResult | 'no-responders';

/** Where outcomes go: the message, and the caller's context and callback, as given to `send`. */
export type OutcomeSink = (msg: OutboundMessage, ctx: unknown, done: unknown, startedAt: number, o: Outcome) => void;

/** No PubAck within the timeout: the message may be stored. */
export const TIMED_OUT: PublishFailure = {
  kind: 'failed',
  retryable: true,
  outcomeUnknown: true,
  code: 'NATS_TIMEOUT',
  reason: 'no PubAck before the timeout',
};
const ABORTED_WAITING: PublishFailure = {
  kind: 'failed',
  retryable: true,
  outcomeUnknown: true,
  code: 'ABORTED',
  reason: 'aborted while waiting for the PubAck',
};

const FREE = -1;
const decoder = new TextDecoder();

/** One PubAck inbox on `nc`; see the file comment. */
export class PubAckInbox {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly names = new StreamNames();
  private readonly opts: { reply: string; headers: MsgHdrs | undefined } = { reply: '', headers: undefined };
  private readonly watched = new WeakSet<AbortSignal>();
  // The ring: the entry of token t is at t & mask while token[t & mask] === t.
  private mask = 1023;
  private token: number[] = new Array<number>(1024).fill(FREE);
  private msg: Array<OutboundMessage | undefined> = new Array(1024);
  private ctx: unknown[] = new Array(1024);
  private done: unknown[] = new Array(1024);
  private signal: Array<AbortSignal | undefined> = new Array(1024);
  private started = new Float64Array(1024);
  /** Oldest token that may still wait; every token below it is settled. */
  private head = 0;
  private next = 0;
  private waiting = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    readonly nc: NatsConnection,
    private readonly timeoutMs: number,
    private readonly sink: OutcomeSink,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, m) => this.onAck(err, m) });
    void this.watchPermissions();
    void nc.closed().then(() => this.failAll({ code: 'CONNECTION_CLOSED', message: 'connection closed' }));
  }

  /**
   * Sends one message with its header block. Undefined: it waits for its PubAck (the sink hears
   * it); otherwise the refusal before sending (max_payload, bad subject, closed): nothing reached
   * the server.
   */
  send(
    msg: OutboundMessage,
    headers: MsgHdrs,
    ctx: unknown,
    done: unknown,
    startedAt: number,
    signal: AbortSignal | undefined,
  ): Outcome | undefined {
    const t = this.next;
    this.opts.reply = this.prefix + t;
    this.opts.headers = headers;
    try {
      this.nc.publish(msg.subject, msg.body, this.opts);
    } catch (err) {
      const verdict = classifyPublishError(err);
      return verdict === 'no-responders' ? verdict : { ...verdict, outcomeUnknown: false };
    } finally {
      this.opts.headers = undefined;
    }
    if (t - this.head > this.mask) this.grow(t);
    this.next = t + 1;
    const i = t & this.mask;
    this.token[i] = t;
    this.msg[i] = msg;
    this.ctx[i] = ctx;
    this.done[i] = done;
    this.signal[i] = signal;
    this.started[i] = startedAt;
    this.waiting++;
    if (signal !== undefined && !this.watched.has(signal)) this.watch(signal);
    this.sweeper ??= setInterval(() => this.sweep(), Math.max(5, Math.min(100, this.timeoutMs / 10))).unref();
    return undefined;
  }

  // Settles token t (which must be waiting) with `o`.
  private settle(t: number, o: Outcome): void {
    const i = t & this.mask;
    const msg = this.msg[i]!;
    const ctx = this.ctx[i];
    const done = this.done[i];
    const startedAt = this.started[i]!;
    this.token[i] = FREE;
    this.msg[i] = undefined;
    this.ctx[i] = undefined;
    this.done[i] = undefined;
    this.signal[i] = undefined;
    this.waiting--;
    while (this.head < this.next && this.token[this.head & this.mask] !== this.head) this.head++;
    if (this.waiting === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
    this.sink(msg, ctx, done, startedAt, o);
  }

  private isWaiting(t: number): boolean {
    return t >= this.head && t < this.next && this.token[t & this.mask] === t;
  }

  // Twice the room (token `t` is about to take head's slot); the waiting entries move to their new slots.
  private grow(t: number): void {
    const size = (this.mask + 1) * 2;
    const old = { token: this.token, msg: this.msg, ctx: this.ctx, done: this.done, signal: this.signal };
    const started = this.started;
    const oldMask = this.mask;
    this.mask = size - 1;
    this.token = new Array<number>(size).fill(FREE);
    this.msg = new Array(size);
    this.ctx = new Array(size);
    this.done = new Array(size);
    this.signal = new Array(size);
    this.started = new Float64Array(size);
    for (let w = this.head; w < t; w++) {
      const o = w & oldMask;
      if (old.token[o] !== w) continue;
      const n = w & this.mask;
      this.token[n] = w;
      this.msg[n] = old.msg[o];
      this.ctx[n] = old.ctx[o];
      this.done[n] = old.done[o];
      this.signal[n] = old.signal[o];
      this.started[n] = started[o]!;
    }
  }

  private onAck(err: NatsError | null, m: Msg): void {
    if (err !== null) {
      this.failAll(err);
      return;
    }
    const subject = m.subject;
    let t = 0;
    for (let j = this.prefix.length; j < subject.length; j++) {
      const d = subject.charCodeAt(j) - 0x30;
      if (d < 0 || d > 9) return;
      t = t * 10 + d;
    }
    if (!this.isWaiting(t)) return; // late: already timed out or aborted
    this.settle(t, this.parseAck(m));
  }

  // A PubAck, a JetStream API error, or a status message (503 = no responders).
  private parseAck(m: Msg): Outcome {
    const data = m.data;
    if (data.length === 0 && m.headers?.hasError) {
      return m.headers.code === 503
        ? 'no-responders'
        : classifyPublishError({ code: String(m.headers.code), message: m.headers.description });
    }
    const fast = readPubAck(data, this.names);
    if (fast !== null) return { kind: 'acked', stream: fast.stream, seq: fast.seq, duplicate: fast.duplicate };
    let ack: {
      stream?: string;
      seq?: number;
      duplicate?: boolean;
      error?: { code?: number; err_code?: number; description?: string };
    };
    try {
      ack = JSON.parse(decoder.decode(data)) as typeof ack;
    } catch (err) {
      return classifyPublishError({ code: 'BAD_JSON', message: `unreadable PubAck: ${String(err)}` });
    }
    if (ack.error !== undefined && (ack.error.code ?? 0) >= 300) {
      return classifyPublishError({
        code: String(ack.error.code),
        message: ack.error.description,
        api_error: ack.error,
      });
    }
    if (typeof ack.stream !== 'string' || ack.stream === '' || typeof ack.seq !== 'number') {
      return classifyPublishError({ code: 'BAD_JSON', message: 'invalid PubAck' });
    }
    return { kind: 'acked', stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true };
  }

  // Publish permission errors come as connection status events naming the subject.
  private async watchPermissions(): Promise<void> {
    for await (const s of this.nc.status()) {
      const ctx = s.permissionContext;
      if (s.type !== 'error' || ctx?.operation !== 'publish') continue;
      for (let t = this.head; t < this.next; t++) {
        if (!this.isWaiting(t) || this.msg[t & this.mask]!.subject !== ctx.subject) continue;
        this.settle(
          t,
          classifyPublishError({
            code: 'PERMISSIONS_VIOLATION',
            message: `Permissions Violation for Publish to "${ctx.subject}"`,
          }),
        );
        break;
      }
    }
  }

  // One abort listener per signal, for every message sent with it.
  private watch(signal: AbortSignal): void {
    this.watched.add(signal);
    signal.addEventListener(
      'abort',
      () => {
        for (let t = this.head; t < this.next; t++)
          if (this.isWaiting(t) && this.signal[t & this.mask] === signal) this.settle(t, ABORTED_WAITING);
      },
      { once: true },
    );
  }

  // Deadlines grow with the tokens (one timeout for all), so the sweep stops at the first live one.
  private sweep(): void {
    const deadline = performance.now() - this.timeoutMs;
    for (let t = this.head; t < this.next; t++) {
      if (!this.isWaiting(t)) continue;
      if (this.started[t & this.mask]! > deadline) break;
      this.settle(t, TIMED_OUT);
    }
  }

  private failAll(err: unknown): void {
    const outcome = classifyPublishError(err);
    for (let t = this.head; t < this.next; t++) if (this.isWaiting(t)) this.settle(t, outcome);
    if (this.nc.isClosed()) this.sub.unsubscribe();
  }
}
