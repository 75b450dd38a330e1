/**
 * A seeded PRNG (mulberry32) for chaos scenarios: the same seed gives the same fault schedule,
 * jitter and workload choices. Sub-streams (`fork`) keep one part's draws from shifting another's.
 */

/** A seeded source of pseudo-random numbers. */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** Uniform float in [min, max). */
  range(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** An independent stream derived from this seed and `label`. */
  fork(label: string): Prng {
    let h = this.seed ^ 0x811c9dc5;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
    return new Prng(h >>> 0);
  }
}

/**
 * The seeds a scenario runs with: `NET_SYNC_CHAOS_SEEDS` (comma-separated) or
 * `NET_SYNC_CHAOS_SEED`, else one fresh random seed (printed, so a failure can be replayed).
 */
export function chaosSeeds(env: NodeJS.ProcessEnv = process.env): number[] {
  const list = env['NET_SYNC_CHAOS_SEEDS'] ?? env['NET_SYNC_CHAOS_SEED'];
  if (list === undefined || list.trim() === '') return [Math.floor(Math.random() * 2 ** 31)];
  return list.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32)
      throw new Error(`NET_SYNC_CHAOS_SEED(S): not a 32-bit unsigned integer: ${JSON.stringify(s)}`);
    return n;
  });
}
