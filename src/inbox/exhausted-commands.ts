/**
 * Commands JetStream stopped delivering with no ack and no term: past their consumer's max
 * deliveries (nats-server's advisory). When the sidecar died on the last delivery, no notice
 * was written then, so one is written now, under the notice ID of the stored message: the
 * notice a sidecar wrote itself is the same row, so never a second one. A command applied here
 * gets none (its ack went missing). What this cannot see is in src/nats/inbox-advisories.ts.
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
  /** Stores the notice of `m` (and logs it); resolves once it is durable. */
  deadLetter: (m: InboxMessageView, consumer: string, reason: string) => Promise<void>;
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
    await this.opts.deadLetter(m, e.consumer, `max-deliver: ${e.deliveries} deliveries, no answer`);
    return true;
  }
}
