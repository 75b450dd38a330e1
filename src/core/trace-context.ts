/**
 * W3C Trace Context (`traceparent`) parsing and creation. Randomness is injected.
 */

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** True for a well-formed version-00 traceparent with non-zero ids. */
export function isTraceparent(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = TRACEPARENT.exec(value);
  return m !== null && !/^0+$/.test(m[1]!) && !/^0+$/.test(m[2]!);
}

/** A child traceparent of `parent` (same trace, new span), or a new root trace. */
export function childTraceparent(parent: string | undefined, randomHex: (bytes: number) => string): string {
  const span = randomHex(8);
  if (parent !== undefined && isTraceparent(parent)) {
    const [, trace, , flags] = TRACEPARENT.exec(parent)!;
    return `00-${trace}-${span}-${flags}`;
  }
  return `00-${randomHex(16)}-${span}-01`;
}
