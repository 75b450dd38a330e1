/**
 * The way back in: committed commands from the inbox's durable consumers reach the agent, by
 * push (Dapr's SUCCESS / RETRY / DROP convention) or by pull over the API, once each. An applied
 * command is recorded before its ack, so a redelivery is absorbed; a command the agent drops,
 * that runs out of deliveries or fails verification is terminated with one dead-letter notice.
 * See docs/inbox.md.
 */
import { HEADER } from '../core/command-message.js';
import { KeyedSerial } from '../core/keyed-serial.js';
import {
  type AgentPusher,
  type AppliedCommands,
  classifyAgentAnswer,
  deliveryDeadLetterId,
  type InboxCommand,
  type InboxDelivery,
  type InboxMessageView,
  type InboxResult,
  type InboxSource,
  type InboxVerdict,
  inboxCommand,
  inboxKey,
  retryDelayMs,
} from '../core/inbox.js';
import type { NewOutboxRow } from '../core/intent.js';
import type { PayloadRef } from '../core/payload-ref.js';
import type { Clock } from '../core/ports.js';
import { SCHEMA_FILE } from '../core/schema-names.js';
import type { Logger } from '../observability/logger.js';
import { ExhaustedCommands } from './exhausted-commands.js';
import type { InboxMetrics } from './metrics.js';
import { PullDeliveries, type PulledCommand } from './pull-deliveries.js';

/** The inbox's settings (config section `inbox`, resolved). */
export interface InboxSettings {
  ackWaitMs: number;
  maxDeliver: number;
  maxAckPending: number;
  backoffMs: readonly number[];
  processingTimeoutMs: number;
  /** Applied records are kept this long (the outbox's `buffer.retainSettledMs`); 0 keeps them. */
  retainMs: number;
}

/** A verdict on a command's endorsements. */
export interface InboxVerification {
  ok: boolean;
  /** Why not, for the dead-letter reason (problem codes). */
  reason: string;
}

/** What {@link InboxService} works with. */
export interface InboxServiceOptions {
  source: InboxSource;
  applied: AppliedCommands;
  /** The agent's endpoint; null: the agent pulls. */
  pusher: AgentPusher | null;
  /** Stores a dead-letter notice durably (the outbox), or null when no stream takes notices. */
  storeNotice: ((row: NewOutboxRow) => Promise<void>) | null;
  /** True when the notice with this ID is stored (an outbox row); always false without `storeNotice`. */
  hasNotice: (correlationId: string) => boolean;
  /** Builds the notice row of a stored command that `consumer` will not deliver again. */
  notice: (m: InboxMessageView, consumer: string, reason: string, atMs: number) => NewOutboxRow;
  /**
   * Checks a command's endorsements; null: commands are delivered unverified (`inbox.verify: false` or consensus off).
   */
  verify: ((d: InboxDelivery) => Promise<InboxVerification>) | null;
  /**
   * Fetches and checks the payload of a command stored by reference (docs/payloads.md); null: the
   * agent gets the `payloadRef` as is (`inbox.resolvePayloads: false`). A failure is a retry.
   */
  resolvePayload?: ((ref: PayloadRef) => Promise<unknown>) | null;
  settings: InboxSettings;
  clock: Clock;
  logger: Logger;
  metrics: InboxMetrics | undefined;
}

const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 1_000;

/** The inbox use case. start() runs push mode's loop; pull mode waits for the API. */
export class InboxService {
  private readonly halt = new AbortController();
  private readonly pulled: PullDeliveries;
  private readonly counts = new Map<InboxResult, number>();
  private loop: Promise<void> | null = null;
  private pruner: NodeJS.Timeout | undefined;
  /** Pushes to the agent, one at a time per inbox key. */
  private readonly pushing = new KeyedSerial();
  private readonly exhausted: ExhaustedCommands;
  /** Work that may store a notice, by notice ID: a delivery of the same message waits for it. */
  private readonly noticing = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: InboxServiceOptions) {
    this.pulled = new PullDeliveries(opts.settings.ackWaitMs, (d) => this.onExpired(d));
    this.exhausted = new ExhaustedCommands({
      source: opts.source,
      applied: opts.applied,
      deadLetter: (m, consumer, reason) => this.deadLetter(m, consumer, reason),
      underWay: (m, work) => this.track(deliveryDeadLetterId(m.stream, m.streamSeq), work),
      maxDeliver: opts.settings.maxDeliver,
      clock: opts.clock,
      logger: opts.logger,
    });
  }

  /** `push` when the agent has an endpoint, else `pull`. */
  get mode(): 'push' | 'pull' {
    return this.opts.pusher === null ? 'pull' : 'push';
  }

  /** Deliveries by result since start. */
  get results(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Lag per consumer (consumer info); empty while NATS is away. */
  lag(): ReturnType<InboxSource['lag']> {
    return this.opts.source.lag();
  }

  start(): void {
    const { source, settings } = this.opts;
    const signal = this.halt.signal;
    // Before the first pull: the advisory of a command exhausted while this sidecar was down
    // comes when it next pulls.
    this.exhausted.watch(signal, () => this.count('expired'));
    if (this.opts.pusher !== null) {
      this.loop = source
        .run((d) => this.onPush(d), settings.maxAckPending, signal)
        .catch((err) => {
          if (!signal.aborted) this.opts.logger.error({ err }, 'inbox stopped');
        });
    }
    if (settings.retainMs > 0) this.pruner = setInterval(() => this.prune(), PRUNE_EVERY_MS).unref();
  }

  /** Stops taking deliveries; unanswered ones are redelivered by JetStream after the ack wait. Safe twice. */
  async stop(): Promise<void> {
    this.halt.abort();
    clearInterval(this.pruner);
    this.pulled.clear();
    await this.loop;
    await this.exhausted.drain();
  }

  /** Sends the acks NATS did not confirm (made while it was away). Call on every reconnect. */
  async resendAcks(): Promise<number> {
    let sent = 0;
    for (const a of this.opts.applied.unacked(1_000)) {
      if (a.ackSubject === undefined || !(await this.opts.source.ackBySubject(a.ackSubject))) continue;
      this.opts.applied.markAcked(a.key, this.opts.clock.now());
      sent++;
    }
    return sent;
  }

  /** Pull mode: up to `max` commands for the agent, waiting at most `waitMs` for the first. */
  async pull(max: number, waitMs: number): Promise<PulledCommand[]> {
    const deadline = this.opts.clock.now() + waitMs;
    const out: PulledCommand[] = [];
    while (out.length === 0 && !this.halt.signal.aborted) {
      const left = deadline - this.opts.clock.now();
      const batch = await this.opts.source.fetch(max, Math.max(0, left), this.halt.signal);
      for (const d of batch) {
        const verified = await this.screen(d);
        const command = verified === null ? null : await this.withPayload(d, inboxCommand(d, verified));
        if (command !== null) out.push(this.pulled.add(d, command));
      }
      if (left <= 0) break;
      // NATS away: fetch returns at once; wait a little instead of spinning until the deadline.
      if (batch.length === 0) await this.opts.clock.sleep(Math.min(200, left), this.halt.signal).catch(() => undefined);
    }
    return out;
  }

  /** Pull mode: the agent's answer to a delivery. False when the delivery is unknown or expired. */
  async answer(
    deliveryId: string,
    verdict: InboxVerdict,
    opts: { delayMs?: number; reason?: string } = {},
  ): Promise<boolean> {
    const d = this.pulled.take(deliveryId);
    if (d === undefined) return false;
    await this.settle(d, verdict, opts.reason ?? `agent answered ${verdict}`, opts.delayMs);
    return true;
  }

  /** Pull mode: the agent is still working on a delivery. False when unknown or expired. */
  working(deliveryId: string): boolean {
    return this.pulled.touch(deliveryId);
  }

  // JetStream never redelivers an expired last delivery: without a notice here the command
  // would vanish, neither applied nor dead-lettered (push mode gets there through its timeout).
  private onExpired(d: InboxDelivery): void {
    this.count('expired');
    const { maxDeliver } = this.opts.settings;
    if (d.deliveryCount < maxDeliver) return;
    this.terminate(d, `max-deliver: ${maxDeliver} deliveries, last: agent did not answer in time`).catch((err) =>
      this.opts.logger.error({ err, correlationId: inboxKey(d) }, 'inbox dead letter failed'),
    );
  }

  private async onPush(d: InboxDelivery): Promise<void> {
    const { settings } = this.opts;
    // In progress from hand-over on: through the wait for an earlier copy, verification and the
    // agent's work, so no slow step has JetStream send another copy.
    const keepAlive = setInterval(() => d.working(), Math.max(100, settings.ackWaitMs / 2));
    try {
      // One push of a command at a time: a redelivery can overtake its earlier copy (whose ack wait
      // ran out while it sat in the client's buffer). It waits for that copy to settle and is then
      // screened like any other, so a command the agent just applied is acked, not pushed again.
      await this.pushing.run(inboxKey(d), async () => {
        const verified = await this.screen(d);
        if (verified !== null) await this.pushToAgent(d, verified);
      });
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async pushToAgent(d: InboxDelivery, verified: boolean): Promise<void> {
    const { settings, clock } = this.opts;
    const command = await this.withPayload(d, inboxCommand(d, verified));
    if (command === null) return;
    const abort = new AbortController();
    const limit = setTimeout(() => abort.abort(), settings.processingTimeoutMs);
    const started = clock.now();
    try {
      const answer = await this.opts.pusher!.push(command, pushHeaders(d, command), abort.signal);
      const { verdict, reason } = classifyAgentAnswer(answer);
      this.opts.logger.debug({ correlationId: command.correlationId, verdict, ms: clock.now() - started }, 'pushed');
      await this.settle(d, verdict, reason);
    } finally {
      clearTimeout(limit);
    }
  }

  // The command with its payload fetched when it is stored by reference; null when that failed
  // (the object not there yet, NATS away, bytes not matching the digest): retried with backoff.
  private async withPayload(d: InboxDelivery, command: InboxCommand): Promise<InboxCommand | null> {
    const resolve = this.opts.resolvePayload;
    if (command.payloadRef === undefined || resolve == null) return command;
    try {
      const { payloadRef, ...rest } = command;
      return { ...rest, payload: await resolve(payloadRef) };
    } catch (err) {
      const reason = `payload ${command.payloadRef.bucket}/${command.payloadRef.name} not resolved: ${String(err)}`;
      this.opts.logger.warn({ err, correlationId: command.correlationId }, 'command payload not resolved; retrying');
      await this.settle(d, 'retry', reason.slice(0, 300));
      return null;
    }
  }

  /**
   * What every delivery passes before the agent sees it: a command already applied is acked
   * again and one already dead-lettered is terminated again (dedupe), the backstop delivery past
   * `maxDeliver` and one that fails verification are dead-lettered. Returns whether the command
   * was verified, or null when the agent is not to see it.
   */
  private async screen(d: InboxDelivery): Promise<boolean | null> {
    const key = inboxKey(d);
    if (this.opts.applied.has(key)) {
      if (await d.ack()) this.opts.applied.markAcked(key, this.opts.clock.now());
      this.count('dedup');
      return null;
    }
    if (await this.noticed(d)) {
      // Its term went missing (a crash or NATS away between notice and term), or nats-server
      // 2.9.10 hands an exhausted message out again (docs/inbox.md): never to the agent again.
      d.term('dead-lettered before');
      this.count('dedup');
      return null;
    }
    const { maxDeliver } = this.opts.settings;
    if (d.deliveryCount > maxDeliver) {
      // The backstop delivery (serverMaxDeliver): delivery `maxDeliver` was never settled.
      await this.terminate(d, `max-deliver: ${maxDeliver} deliveries, no answer`);
      this.count('expired');
      return null;
    }
    if (this.opts.verify === null) return false;
    const v = await this.opts.verify(d);
    if (v.ok) return true;
    await this.terminate(d, `unverified: ${v.reason}`);
    this.count('unverified');
    return null;
  }

  private async settle(d: InboxDelivery, verdict: InboxVerdict, reason: string, delayMs?: number): Promise<void> {
    const { settings, clock, applied } = this.opts;
    if (verdict === 'ack') {
      const key = inboxKey(d);
      await applied.record({
        key,
        stream: d.stream,
        streamSeq: d.streamSeq,
        subject: d.subject,
        consumer: d.consumer,
        appliedAtMs: clock.now(),
        ackSubject: d.ackSubject,
      });
      if (await d.ack()) applied.markAcked(key, clock.now());
      this.opts.metrics?.latency.observe(Math.max(0, clock.now() - d.publishedAtMs) / 1_000);
      this.count('ack');
    } else if (verdict === 'retry' && d.deliveryCount < settings.maxDeliver) {
      d.nak(delayMs ?? retryDelayMs(d.deliveryCount, settings.backoffMs));
      this.count('retry');
    } else if (verdict === 'retry') {
      await this.terminate(d, `max-deliver: ${settings.maxDeliver} deliveries, last: ${reason}`);
      this.count('expired');
    } else {
      await this.terminate(d, reason);
      this.count('drop');
    }
  }

  // The notice is on disk before the term, so a crash in between redelivers and notices again
  // under the same ID (one notice, whatever happens).
  private async terminate(d: InboxDelivery, reason: string): Promise<void> {
    await this.deadLetter(d, d.consumer, reason);
    d.term(reason.slice(0, 200));
  }

  // One notice per stored message (its ID names the stream sequence): a message that has one
  // already is not noticed again, and a delivery of it waits while one is being written. True
  // when this call stored the notice.
  private deadLetter(m: InboxMessageView, consumer: string, reason: string): Promise<boolean> {
    const id = deliveryDeadLetterId(m.stream, m.streamSeq);
    const work = (async () => {
      if (this.opts.hasNotice(id)) return false;
      const row = this.opts.notice(m, consumer, reason, this.opts.clock.now());
      if (this.opts.storeNotice !== null) await this.opts.storeNotice(row);
      this.opts.logger.warn(
        { correlationId: inboxKey(m), stream: m.stream, streamSeq: m.streamSeq, consumer, reason },
        'command dead-lettered',
      );
      return true;
    })();
    this.track(id, work);
    return work;
  }

  // Whether `m` has its notice, once any work that may store it has ended.
  private async noticed(m: InboxMessageView): Promise<boolean> {
    const id = deliveryDeadLetterId(m.stream, m.streamSeq);
    await this.noticing.get(id)?.catch(() => undefined);
    return this.opts.hasNotice(id);
  }

  private track(id: string, work: Promise<unknown>): void {
    this.noticing.set(id, work);
    const done = (): void => {
      if (this.noticing.get(id) === work) this.noticing.delete(id);
    };
    work.then(done, done);
  }

  private count(result: InboxResult): void {
    this.counts.set(result, (this.counts.get(result) ?? 0) + 1);
    this.opts.metrics?.deliveries.inc({ result });
  }

  private prune(): void {
    try {
      this.opts.applied.prune(this.opts.clock.now() - this.opts.settings.retainMs, PRUNE_BATCH);
    } catch (err) {
      this.opts.logger.warn({ err }, 'inbox prune failed');
    }
  }
}

function pushHeaders(d: InboxDelivery, c: InboxCommand): Record<string, string> {
  const h: Record<string, string> = {
    [HEADER.correlationId]: c.correlationId,
    [HEADER.schema]: SCHEMA_FILE.inboxCommand,
  };
  const tp = d.headers[HEADER.traceparent];
  if (tp !== undefined) h[HEADER.traceparent] = tp;
  return h;
}
