/**
 * `net-sync federation verify`: the audit by replay. Reads our events subject of each `send`
 * partner and its acks subject back from JetStream with nothing but the config (no outbox, no
 * key file: a user that may read the stream is enough), checks every event envelope against
 * `federation.signers` (threshold: the consensus quorum, 1 with consensus off) and every receipt
 * against the partner's keys (windows at the message's stored time), pairs them and prints
 * `{events, verified, acked, rejected, gaps, badEvents, badAcks, duplicates}`. Exit 0 only when
 * the four lists are empty, 1 otherwise, 2 on a usage or config error.
 */
import { federationEnabled, type PartnerConfig, trustedKeys } from '../../config/schema/federation.js';
import { ourThreshold } from '../../config/federation-threshold.js';
import type { Config } from '../../config/schema.js';
import { NetSyncError } from '../../core/errors.js';
import type { FederationAuditReport } from '../../core/federation-audit.js';
import { partnerSubjects } from '../../core/federation-message.js';
import { verifyFederation, type VerifyPartner } from '../../federation/index.js';
import { ed25519Verifier } from '../../runtime/ed25519-keys.js';
import { openAdminSession } from '../../service/admin-session.js';
import type { CommandContext } from '../command-context.js';

/** Options of `net-sync federation verify` (see src/cli/registry.ts). */
export interface FederationVerifyOptions {
  /** --partner: one partner only. */
  partner?: string;
  /** --since: only messages stored this long ago or later (ms); default: the whole stream. */
  sinceMs?: number;
}

/** The `--json` document: the audit's report and `ok`. */
export type FederationVerifyDocument = FederationAuditReport & { ok: boolean; threshold: number; partners: string[] };

function usage(field: string, message: string): NetSyncError {
  return new NetSyncError('CONFIG_INVALID', `${field}: ${message}`, { field });
}

/** The partners audited: every `send` partner, or the one `--partner` names. */
function auditedPartners(config: Config, name: string | undefined): PartnerConfig[] {
  const all = config.federation.partners;
  if (name === undefined) return all.filter((p) => p.send);
  const p = all.find((x) => x.name === name);
  if (p === undefined) throw usage('partner', `${name} is not in federation.partners`);
  if (!p.send) throw usage('partner', `${name} is not a send partner: we send it no events to verify`);
  return [p];
}

/** Runs `net-sync federation verify`; returns the exit code. */
export async function runFederationVerify(ctx: CommandContext, options: FederationVerifyOptions): Promise<number> {
  const { config } = ctx;
  const fed = config.federation;
  if (!federationEnabled(fed)) throw usage('federation.name', 'is not set: federation is off');
  if (fed.signers.length === 0) throw usage('federation.signers', 'is empty: nothing could verify our events');
  const chosen = auditedPartners(config, options.partner);
  const threshold = ourThreshold(config);
  const prefix = config.subjects.prefix;
  const partners: VerifyPartner[] = chosen.map((p) => {
    const s = partnerSubjects(prefix, p);
    return { name: p.name, keys: trustedKeys(p), threshold: p.threshold, eventsSubject: s.events, acksSubject: s.acks };
  });
  const session = await openAdminSession(config, ctx.logger, 10_000, ctx.signal);
  let report: FederationAuditReport;
  try {
    report = await verifyFederation({
      us: fed.name,
      signers: trustedKeys({ keys: fed.signers }),
      threshold,
      verifier: ed25519Verifier,
      ackTimeoutMs: fed.ackTimeoutMs,
      partners,
      sinceMs: options.sinceMs === undefined ? 0 : Date.now() - options.sinceMs,
      scanner: session.reader,
      nowMs: () => Date.now(),
      signal: ctx.signal,
    });
  } finally {
    await session.close();
  }
  const ok =
    report.gaps.length === 0 &&
    report.badEvents.length === 0 &&
    report.badAcks.length === 0 &&
    report.duplicates.length === 0;
  const doc: FederationVerifyDocument = { ok, threshold, partners: partners.map((p) => p.name), ...report };
  ctx.out.result(doc, () => render(ctx, doc));
  return ok ? 0 : 1;
}

function render(ctx: CommandContext, d: FederationVerifyDocument): void {
  const { out } = ctx;
  out.fields({
    status: d.ok ? 'ok' : 'ATTENTION',
    partners: d.partners.join(', ') || '(none with send: true)',
    threshold: d.threshold,
    events: d.events,
    verified: d.verified,
    acked: d.acked,
    rejected: d.rejected,
    gaps: d.gaps.length,
    'bad events': d.badEvents.length,
    'bad acks': d.badAcks.length,
    duplicates: d.duplicates.length,
  });
  if (d.badEvents.length > 0)
    out.table(
      ['bad event: partner', 'Nats-Msg-Id', 'streamSeq', 'reason'],
      d.badEvents.map((b) => [b.partner, b.msgId, b.streamSeq, b.reason]),
    );
  if (d.badAcks.length > 0)
    out.table(
      ['bad ack: partner', 'Nats-Msg-Id', 'streamSeq', 'reason'],
      d.badAcks.map((b) => [b.partner, b.msgId, b.streamSeq, b.reason]),
    );
  if (d.duplicates.length > 0)
    out.table(
      ['duplicate: partner', 'eventId', 'Nats-Msg-Ids', 'streamSeqs'],
      d.duplicates.map((x) => [x.partner, x.eventId, x.msgIds.join(' '), x.streamSeqs.join(' ')]),
    );
  if (d.gaps.length > 0)
    out.table(
      ['gap: partner', 'eventId', 'streamSeq', 'age'],
      d.gaps.map((g) => [g.partner, g.eventId, g.streamSeq, `${g.ageMs} ms`]),
    );
}
