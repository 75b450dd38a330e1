/**
 * Byte-for-byte equality of two byte arrays, for the intakes that tell a retried copy of a stored
 * intent (same bytes) from a different intent under the same ID. Pure: no `Buffer`, no node:*.
 */

/** True when `a` and `b` hold the same bytes in the same order. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
