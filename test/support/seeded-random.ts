/** mulberry32: a small seeded PRNG, so that a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The seed from NET_SYNC_SEED, or a fresh one; printed so the run can be repeated. */
export function testSeed(name: string): number {
  const fromEnv = process.env['NET_SYNC_SEED'];
  const seed = fromEnv === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(fromEnv);
  console.log(`[${name}] seed=${seed} (re-run with NET_SYNC_SEED=${seed})`);
  return seed;
}
