/**
 * Work serialised per key: a call for a key waits until every earlier call for that key has
 * settled (resolved or rejected), then runs. The inbox and the federation receiver use it so a
 * redelivery that overtakes its earlier copy waits for that copy's push instead of racing it.
 */
export class KeyedSerial {
  private readonly running = new Map<string, Promise<void>>();

  /** Runs `work` once no earlier work for `key` is running; resolves or rejects as it does. */
  async run(key: string, work: () => Promise<void>): Promise<void> {
    for (let earlier = this.running.get(key); earlier !== undefined; earlier = this.running.get(key)) await earlier;
    const run = work();
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.running.set(key, settled);
    try {
      await run;
    } finally {
      if (this.running.get(key) === settled) this.running.delete(key);
    }
  }
}
