/**
 * Exponential backoff with full jitter (AWS architecture blog "Exponential Backoff And
 * Jitter"): the delay for attempt n is uniform in [0, min(maxMs, baseMs * 2^n)], floored at
 * `minMs` so a tight loop never spins.
 */
export interface BackoffPolicy {
  /** Delay scale for the first retry, ms. */
  baseMs: number;
  /** Upper bound of any delay, ms. */
  maxMs: number;
  /** Lower bound of any delay, ms. */
  minMs: number;
}

/** Delay before retry `attempt` (0-based). `random` returns a value in [0, 1). */
export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(policy.minMs, Math.floor(random() * exp));
}
