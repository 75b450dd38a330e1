/**
 * Random hex for trace and span IDs on every accept: one randomFillSync per 4 KiB instead of a
 * randomBytes call (a syscall and a Buffer) per ID. Each byte is handed out once.
 */
import { randomBytes, randomFillSync } from 'node:crypto';

const RANDOM_POOL_BYTES = 4_096;
const randomPool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
let randomPoolOffset = RANDOM_POOL_BYTES;

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  if (bytes > RANDOM_POOL_BYTES) return randomBytes(bytes).toString('hex');
  if (randomPoolOffset + bytes > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const hex = randomPool.toString('hex', randomPoolOffset, randomPoolOffset + bytes);
  randomPoolOffset += bytes;
  return hex;
}
