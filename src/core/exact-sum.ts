/**
 * Exactly rounded floating-point sum (Shewchuk's algorithm, as Python's `math.fsum`). The
 * result is the exact sum of the inputs rounded once, so it does not depend on the order the
 * values were added in: two scouts that receive the same points in different orders produce
 * the same `sum` to the last bit, and so byte-identical summaries.
 */

/** An order-independent, exactly rounded running sum of finite numbers. */
export class ExactSum {
  // Non-overlapping partial sums, increasing magnitude, in partials[0..n). A handful in practice
  // (at most ~40 for doubles). A typed array with a count, not number[] with length changes:
  // half the cost per add, which is most of a scout's per-point work.
  private partials = new Float64Array(8);
  private n = 0;

  /** Adds one finite value. */
  add(x: number): void {
    let partials = this.partials;
    const n = this.n;
    let i = 0;
    for (let j = 0; j < n; j++) {
      let y = partials[j]!;
      if (Math.abs(x) < Math.abs(y)) {
        const t = x;
        x = y;
        y = t;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[i++] = lo;
      x = hi;
    }
    if (i === partials.length) {
      const grown = new Float64Array(partials.length * 2);
      grown.set(partials);
      this.partials = partials = grown;
    }
    partials[i] = x;
    this.n = i + 1;
  }

  /** The exactly rounded sum of everything added (0 when empty). */
  value(): number {
    const p = this.partials;
    let n = this.n;
    if (n === 0) return 0;
    let hi = p[--n]!;
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n]!;
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // Round-half-even correction when the remaining partials push the tie one way.
    if (n > 0 && ((lo < 0 && p[n - 1]! < 0) || (lo > 0 && p[n - 1]! > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }
}
