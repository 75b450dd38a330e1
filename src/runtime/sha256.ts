/**
 * Lower-case hex SHA-256 with `node:crypto`: the same digest as core's pure `sha256Hex`
 * (`@noble/hashes`), in about a third of the time. Passed to the parts that hash every received
 * event (federation's receiver and receipts reader).
 */
import { createHash } from 'node:crypto';

/** Lower-case hex SHA-256 of `bytes` (64 characters). */
export function sha256HexNode(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
