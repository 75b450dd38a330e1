/**
 * The background loop of a use case: one round every `periodMs` until stopped. A round that
 * throws is logged and the loop goes on (background loops never throw into the void); a round
 * aborted by the stop (an ABORTED error) is not an error.
 */
import { hasCode } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import type { Logger } from '../observability/logger.js';

/** What a {@link PeriodicTask} runs, and how often. */
export interface PeriodicTaskOptions {
  clock: Clock;
  logger: Logger;
  /** Pause between the end of one round and the start of the next. */
  periodMs: number;
  /** True: the first round runs at start; false: after the first pause. */
  runAtStart: boolean;
  /** Logged at warn, with the error, when a round throws. */
  failureMessage: string;
  /** One round; `signal` aborts when the task stops. */
  round: (signal: AbortSignal) => Promise<unknown>;
}

/** start() once, stop() to end and wait for the round in progress. Both safe twice. */
export class PeriodicTask {
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly opts: PeriodicTaskOptions) {}

  get running(): boolean {
    return this.loop !== null;
  }

  start(): void {
    if (this.loop !== null) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = null;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { clock, periodMs } = this.opts;
    for (let first = true; !signal.aborted; first = false) {
      if (!first || !this.opts.runAtStart) {
        try {
          await clock.sleep(periodMs, signal);
        } catch {
          return; // stopped
        }
      }
      try {
        await this.opts.round(signal);
      } catch (err) {
        if (!(signal.aborted && hasCode(err, 'ABORTED'))) this.opts.logger.warn({ err }, this.opts.failureMessage);
      }
    }
  }
}
