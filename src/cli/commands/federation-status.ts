/**
 * `net-sync federation status`: asks a running sidecar for its ledger per partner
 * (`GET /v1/federation/partners`) and prints it: sent, acked, rejected, unacked, the oldest
 * unacked, receipts refused, events received and refused; then the gaps (committed events
 * without a receipt after `federation.ackTimeoutMs`) and the rejected events. Exit 0 when there
 * is no gap and no rejected event, 1 otherwise (or when the sidecar is unreachable), 2 when the
 * partner is unknown or federation is off.
 */
import type { FederationStatus } from '../../core/federation-receipt.js';
import type { CommandContext } from '../command-context.js';

/** Options of `net-sync federation status` (see src/cli/registry.ts). */
export interface FederationStatusOptions {
  /** --partner: one partner only. */
  partner?: string;
  /** --url: the sidecar's API base URL. Absent: `http://${config.api.listen}`. */
  url?: string;
}

/** Runs `net-sync federation status`; returns the exit code. */
export async function runFederationStatus(ctx: CommandContext, options: FederationStatusOptions): Promise<number> {
  const base = options.url ?? `http://${ctx.config.api.listen}`;
  const headers: Record<string, string> =
    ctx.config.api.token === undefined ? {} : { authorization: `Bearer ${ctx.config.api.token}` };
  const query = options.partner === undefined ? '' : `?partner=${encodeURIComponent(options.partner)}`;
  let res: Response;
  try {
    res = await fetch(`${base}/v1/federation/partners${query}`, { headers, signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    const error = `sidecar at ${base} unreachable: ${String(err)}`;
    ctx.out.result({ ok: false, error }, () => ctx.out.note(error));
    return 1;
  }
  if (res.status === 404 || res.status === 501) {
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    const error = body.error?.message ?? `HTTP ${res.status}`;
    ctx.out.result({ ok: false, error }, () => ctx.out.note(error));
    return 2;
  }
  if (!res.ok) {
    const error = `sidecar at ${base} answered HTTP ${res.status}`;
    ctx.out.result({ ok: false, error }, () => ctx.out.note(error));
    return 1;
  }
  const doc = (await res.json()) as FederationStatus;
  const ok = doc.gaps.length === 0 && doc.rejected.length === 0;
  ctx.out.result({ ok, ...doc }, () => render(ctx, doc, ok));
  return ok ? 0 : 1;
}

function render(ctx: CommandContext, doc: FederationStatus, ok: boolean): void {
  const { out } = ctx;
  out.fields({ status: ok ? 'ok' : 'ATTENTION', gaps: doc.gaps.length, rejected: doc.rejected.length });
  out.table(
    [
      'partner',
      'send',
      'receive',
      'sent',
      'acked',
      'rejected',
      'unacked',
      'oldest unacked',
      'last ack',
      'acks refused',
      'received',
      'refused',
    ],
    doc.partners.map((p) => [
      p.name,
      p.send ? 'yes' : 'no',
      p.receive ? 'yes' : 'no',
      p.sent,
      p.acked,
      p.rejected,
      p.unacked,
      p.unacked === 0 ? '-' : `${p.oldestUnackedAgeMs} ms`,
      p.lastAckAt ?? '-',
      p.acksRefused,
      p.received,
      p.refused,
    ]),
  );
  if (doc.gaps.length > 0)
    out.table(
      ['gap: partner', 'eventId', 'streamSeq', 'age'],
      doc.gaps.map((g) => [g.partner, g.eventId, g.streamSeq, `${g.ageMs} ms`]),
    );
  if (doc.rejected.length > 0)
    out.table(
      ['rejected: partner', 'eventId', 'reason'],
      doc.rejected.map((r) => [r.partner, r.eventId, r.reason]),
    );
}
