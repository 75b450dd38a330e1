/**
 * Start in order, stop in reverse: the one place a composition root's parts are started and
 * stopped. A part that failed to start is not stopped; the parts started before it are, in
 * reverse, and the start error is thrown. A stop that throws is logged and the others still stop.
 */
import type { Logger } from '../observability/logger.js';

/** Something the sidecar starts and stops. Either may be omitted. */
export interface Part {
  readonly name: string;
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
}

/** An ordered list of parts. */
export class Lifecycle {
  private readonly started = new Set<Part>();
  private readonly stopped = new Set<Part>();

  constructor(
    private readonly parts: readonly Part[],
    private readonly log: Logger,
  ) {}

  /** Starts every part in order; on a failure, stops those started and rethrows. */
  async start(): Promise<void> {
    for (const part of this.parts) {
      try {
        await part.start?.();
      } catch (err) {
        this.log.error({ err, part: part.name }, 'part failed to start; stopping those started');
        await this.stop();
        throw err;
      }
      this.started.add(part);
    }
  }

  /**
   * Stops in reverse order every part that started, and every part without a start (it holds
   * what its constructor opened, a file say), each once. Safe twice, and before start().
   */
  async stop(): Promise<void> {
    for (const part of [...this.parts].reverse()) {
      if (this.stopped.has(part) || (part.start !== undefined && !this.started.has(part))) continue;
      this.stopped.add(part);
      try {
        await part.stop?.();
      } catch (err) {
        this.log.warn({ err, part: part.name }, 'part failed to stop cleanly');
      }
    }
  }
}
