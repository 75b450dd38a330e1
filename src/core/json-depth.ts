/**
 * JSON nesting depth, checked without deep recursion: the walk stops at `max` levels, so a body
 * nested 10,000 deep costs `max` stack frames, not 10,000.
 */

/**
 * Deepest payload nesting accepted from an agent, everywhere (API, consensus on or off). An
 * envelope wraps a payload in 4 levels, well under its own limit of 64.
 */
export const MAX_PAYLOAD_DEPTH = 32;

/** True when `value` nests objects or arrays deeper than `max` levels. */
// Loops rather than Object.values(...).some(...): a telemetry batch holds thousands of numbers.
export function exceedsDepth(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max === 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i];
      if (typeof child === 'object' && child !== null && exceedsDepth(child, max - 1)) return true;
    }
    return false;
  }
  for (const key in value) {
    const child: unknown = (value as Record<string, unknown>)[key];
    if (typeof child === 'object' && child !== null && exceedsDepth(child, max - 1)) return true;
  }
  return false;
}
