/**
 * The audit by replay behind `net-sync federation verify` (docs/federation.md, Audit): reads
 * our events subject of each partner, then its acks subject, from the stream alone (no outbox),
 * and hands every message to the pure audit (`core/federation-audit.ts`). A receipt naming an
 * event stored before `--since` is looked up there before it is called unknown.
 */
import {
  type AuditMessage,
  type AuditPartner,
  FederationAudit,
  type FederationAuditOptions,
  type FederationAuditReport,
} from '../core/federation-audit.js';

/** Reads stored messages back (implemented by `JetStreamReader`). */
export interface AuditScanner {
  /** Every message on `subject` stored at or after `sinceMs`, in stream order. */
  scanAll(subject: string, sinceMs: number, signal?: AbortSignal): AsyncIterable<AuditMessage>;
  /** Where each of `msgIds` is stored on `subject` at or after `sinceMs`; absent IDs were not found. */
  findMsgIds(
    subject: string,
    sinceMs: number,
    msgIds: ReadonlySet<string>,
    signal?: AbortSignal,
  ): Promise<Map<string, unknown>>;
}

/** A partner we send to: its keys, and the subjects of our events to it and its receipts to us. */
export interface VerifyPartner extends AuditPartner {
  eventsSubject: string;
  acksSubject: string;
}

/** What {@link verifyFederation} reads and judges. */
export interface VerifyFederationOptions extends FederationAuditOptions {
  partners: readonly VerifyPartner[];
  /** Only messages stored at or after this (ms since epoch); 0 reads everything. */
  sinceMs: number;
  scanner: AuditScanner;
  /** Now, for the gaps' ages. */
  nowMs: () => number;
  signal?: AbortSignal;
}

/** Reads and judges; the report lists what failed. */
export async function verifyFederation(opts: VerifyFederationOptions): Promise<FederationAuditReport> {
  const { scanner, signal } = opts;
  const audit = new FederationAudit(opts);
  for (const p of opts.partners)
    for await (const m of scanner.scanAll(p.eventsSubject, opts.sinceMs, signal)) await audit.addEvent(p.name, m);
  for (const p of opts.partners)
    for await (const m of scanner.scanAll(p.acksSubject, opts.sinceMs, signal)) await audit.addAck(p, m);
  const earlier = new Map<string, ReadonlySet<string>>();
  for (const p of opts.partners) {
    const unknown = audit.unknownEventMsgIds(p.name);
    if (opts.sinceMs > 0 && unknown.size > 0)
      earlier.set(p.name, new Set((await scanner.findMsgIds(p.eventsSubject, 0, unknown, signal)).keys()));
  }
  return audit.report(opts.nowMs(), earlier);
}
