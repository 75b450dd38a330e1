/**
 * `reconcile --verify` for payloads by reference: every committed command that carries a
 * `payloadRef` must find its object in the bucket with the reference's size and digest.
 */
import { objectStoreDigest, payloadRefOf, type PayloadObjects } from '../core/payload-ref.js';

/** A committed reference whose object is not as the command says. */
export interface PayloadRefProblemRow {
  correlationId: string;
  bucket: string;
  name: string;
  /** `missing`: no object under the name; `digest`/`size`: an object that does not match. */
  problem: 'missing' | 'digest' | 'size';
}

/** What the check found. */
export interface PayloadRefReport {
  /** Committed commands with a reference, checked. */
  checked: number;
  problems: PayloadRefProblemRow[];
}

/**
 * Checks the object of each row's reference (rows without one are skipped) by its info: size and
 * the store's SHA-256 digest, without reading the bytes. Rejects when NATS cannot answer.
 */
export async function verifyPayloadRefs(
  rows: Iterable<{ correlationId: string; body: Uint8Array }>,
  objects: PayloadObjects,
  signal?: AbortSignal,
): Promise<PayloadRefReport> {
  const report: PayloadRefReport = { checked: 0, problems: [] };
  for (const row of rows) {
    const ref = payloadRefOf(row.body);
    if (ref === undefined) continue;
    signal?.throwIfAborted();
    report.checked++;
    const info = await objects.info(ref, signal);
    const at = { correlationId: row.correlationId, bucket: ref.bucket, name: ref.name };
    if (info === null) report.problems.push({ ...at, problem: 'missing' });
    else if (info.size !== ref.size) report.problems.push({ ...at, problem: 'size' });
    else if (info.digest !== objectStoreDigest(ref.digest)) report.problems.push({ ...at, problem: 'digest' });
  }
  return report;
}
