/**
 * Cleanups for one scenario run, run last-in, first-out even after a failure. Every process,
 * proxy and connection a scenario makes registers its disposal here the moment it exists.
 */
export class CleanupStack {
  private readonly items: Array<{ what: string; run: () => Promise<void> | void }> = [];

  /** Registers `run` (named for error reports); returns `value` for chaining. */
  push<T>(what: string, run: () => Promise<void> | void, value?: T): T {
    this.items.push({ what, run });
    return value as T;
  }

  /** Runs every cleanup LIFO; each is bounded by `timeoutMs`; throws the first error after all ran. */
  async runAll(timeoutMs = 30_000): Promise<void> {
    const errors: string[] = [];
    for (let item = this.items.pop(); item !== undefined; item = this.items.pop()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([Promise.resolve().then(item.run), timeout]);
      } catch (err) {
        errors.push(`${item.what}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        clearTimeout(timer);
      }
    }
    if (errors.length > 0) throw new Error(`cleanup failed: ${errors.join('; ')}`);
  }
}
