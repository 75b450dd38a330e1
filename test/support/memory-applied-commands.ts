/**
 * An in-memory `AppliedCommands` with the semantics of `SqliteAppliedCommands` (a known key is
 * left as it is, an ack clears the stored ack subject, `unacked` oldest first), for unit tests of
 * the inbox. Nothing is durable. Each write is noted in `journal` when one is given, so a test can
 * check the order of a record and an ack.
 */
import type { AppliedCommand, AppliedCommands } from '../../src/core/inbox.js';

interface Entry extends AppliedCommand {
  ackedAtMs?: number;
}

/** In-memory fake of the `AppliedCommands` port. */
export class MemoryAppliedCommands implements AppliedCommands {
  private readonly entries = new Map<string, Entry>();

  /** `journal` receives `record:<key>` for each new record. */
  constructor(private readonly journal?: string[]) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  record(entry: AppliedCommand): void {
    if (this.entries.has(entry.key)) return;
    this.entries.set(entry.key, { ...entry });
    this.journal?.push(`record:${entry.key}`);
  }

  markAcked(key: string, atMs: number): void {
    const e = this.entries.get(key);
    if (e === undefined) return;
    e.ackedAtMs = atMs;
    delete e.ackSubject;
  }

  unacked(limit: number): AppliedCommand[] {
    return [...this.entries.values()]
      .filter((e) => e.ackedAtMs === undefined)
      .sort((a, b) => a.appliedAtMs - b.appliedAtMs)
      .slice(0, limit)
      .map(({ ackedAtMs: _, ...e }) => e);
  }

  prune(beforeMs: number, limit: number): number {
    let n = 0;
    for (const [key, e] of this.entries) {
      if (n >= limit) break;
      if (e.appliedAtMs < beforeMs && this.entries.delete(key)) n++;
    }
    return n;
  }

  /** The record of `key`, with when NATS confirmed its ack (undefined: not yet). */
  get(key: string): (AppliedCommand & { ackedAtMs?: number }) | undefined {
    const e = this.entries.get(key);
    return e === undefined ? undefined : { ...e };
  }

  /** Number of records. */
  get size(): number {
    return this.entries.size;
  }
}
