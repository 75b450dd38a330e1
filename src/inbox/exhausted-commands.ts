/**
 * The fallback for commands JetStream stopped delivering with no ack and no term: past their
 * consumer's max deliveries (nats-server's advisory). The sidecar dead-letters in band, at
 * delivery `maxDeliver` or on the backstop delivery after it (core/inbox.ts serverMaxDeliver);
 * this catches a backstop delivery that never reached a live sidecar (nats-server 2.9.10 counts
 * one handed to a dead sidecar's pull request; docs/inbox.md). The notice has the ID of the
 * stored message, so it is never a second one. A command applied here gets none (its ack went
 * missing). What this cannot see is in src/nats/inbox-advisories.ts.
 */
import {
  type AppliedCommands,
  type InboxExhausted,
  type InboxMessageView,
  type InboxSource,
  inboxKey,
} from '../core/inbox.js';
import type { Clock } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';

/** Reads of an exhausted command before giving up (NATS gone just after its advisory), 1 s apart. */
const READS = 5;

/** What {@link ExhaustedCommands} works with. */
export interface ExhaustedCommandsOptions {
  source: InboxSource;
  applied: AppliedCommands;
  /** Stores the notice of `m` (and logs it); resolves once it is durable, true when it was not stored before. */
  deadLetter: (m: InboxMessageView, consumer: string, reason: string) => Promise<boolean>;
  /** Told, as an advisory arrives, of the work that may store the message's notice. */
  underWay: (m: Pick<InboxExhausted, 'stream' | 'streamSeq'>, work: Promise<unknown>) => void;
  /** `inbox.maxDeliver`, for the reason. */
  maxDeliver: number;
  clock: Clock;
  logger: Logger;
}

/** Writes the missing notices of exhausted commands, from `watch()` until `signal` aborts. */
export class ExhaustedCommands {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly opts: ExhaustedCommandsOptions) {}

  /** Listens for exhausted commands until `signal` aborts; `onNotice` is called per notice stored. */
  watch(signal: AbortSignal, onNotice: () => void): void {
    this.opts.source.onExhausted((e) => {
      const p = this.handle(e, signal)
        .then((stored) => {
          if (stored) onNotice();
        })
        .catch((err) => this.opts.logger.error({ err, streamSeq: e.streamSeq }, 'inbox dead letter failed'));
      // Before any await: a delivery of the same message (nats-server 2.9.10 may hand it out
      // again right after the advisory) waits for this notice instead of reaching the agent.
      this.opts.underWay(e, p);
      this.running.add(p);
      void p.finally(() => this.running.delete(p));
    }, signal);
  }

  /** Resolves once every notice under way is stored or given up. */
  async drain(): Promise<void> {
    await Promise.allSettled(this.running);
  }

  // True when a notice was stored.
  private async handle(e: InboxExhausted, signal: AbortSignal): Promise<boolean> {
    const { source, applied, clock, logger } = this.opts;
    const at = { stream: e.stream, streamSeq: e.streamSeq, consumer: e.consumer };
    let stored: Awaited<ReturnType<InboxSource['stored']>>;
    for (let read = 1; ; read++) {
      try {
        stored = await source.stored(e.stream, e.streamSeq);
        break;
      } catch (err) {
        if (read >= READS || signal.aborted) {
          logger.error({ err, ...at }, 'exhausted command not read: no dead-letter notice');
          return false;
        }
        await clock.sleep(1_000, signal).catch(() => undefined);
      }
    }
    if (stored === undefined) {
      logger.warn(at, 'exhausted command no longer in the stream');
      return false;
    }
    const m: InboxMessageView = { ...stored, deliveryCount: e.deliveries };
    if (applied.has(inboxKey(m))) return false;
    return this.opts.deadLetter(m, e.consumer, `max-deliver: ${this.opts.maxDeliver} deliveries, no answer (advisory)`);
  }
}
