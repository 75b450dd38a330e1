/**
 * `net-sync status`: asks a running sidecar for its state over the local API and reports it:
 * peers and mesh, NATS and JetStream, outbox depth, and commit lag against the SLAs (docs/seeds.md): commands 0.5 s, telemetry 2 s
 * (commands < 500 ms, telemetry < 2 s; see src/core/sla.ts and docs/seeds.md). Exit 1 when the sidecar is
 * unreachable, not ready, or any figure is outside its SLA.
 */
import type { StatusDoc, StatusLag } from '../../api/status-page.js';
import type { CommandContext } from '../command-context.js';

/** Options of `net-sync status` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface StatusOptions {
  /** --url: the sidecar's API base URL, no trailing slash. Absent: `http://${config.api.listen}`. */
  url?: string;
}

/** Runs `net-sync status`; returns the exit code. */
export async function runStatus(ctx: CommandContext, options: StatusOptions): Promise<number> {
  const base = options.url ?? `http://${ctx.config.api.listen}`;
  const headers: Record<string, string> =
    ctx.config.api.token === undefined ? {} : { authorization: `Bearer ${ctx.config.api.token}` };
  let doc: StatusDoc;
  try {
    const res = await fetch(`${base}/v1/status`, { headers, signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = (await res.json()) as StatusDoc;
  } catch (err) {
    ctx.out.result({ ok: false, error: `sidecar at ${base} unreachable: ${String(err)}` }, () =>
      ctx.out.note(`sidecar at ${base} unreachable: ${String(err)}`),
    );
    return 1;
  }
  // An older sidecar answers without `sla`: judge readiness alone.
  const ok = doc.sla === undefined ? doc.nats.streamsReady : doc.ok;
  ctx.out.result({ ...doc, ok }, () => render(ctx, doc, ok));
  return ok ? 0 : 1;
}

function render(ctx: CommandContext, doc: StatusDoc, ok: boolean): void {
  const { out } = ctx;
  const streams = doc.nats.jetstream?.streams ?? [];
  out.fields({
    status: ok ? 'ok' : 'ATTENTION',
    peer: doc.peerId,
    nats: `${doc.nats.state}${doc.nats.streamsReady ? ', streams ready' : ', streams NOT ready'}`,
    jetstream:
      streams.length === 0
        ? (doc.nats.jetstream?.error ?? 'no streams')
        : streams.map((s) => `${s.name} ${s.messages} msgs (last seq ${s.lastSeq})`).join(', '),
    mesh:
      doc.peers === undefined || !doc.peers.enabled
        ? 'off (single node)'
        : `${doc.peers.connected.length} peers connected, ${doc.peers.meshPeers} in mesh` +
          (doc.peers.quorum === undefined ? '' : `, quorum ${doc.peers.quorum}`),
  });
  const states = Object.keys(doc.outbox.command);
  out.table(
    ['kind', ...states],
    [
      ['command', ...states.map((s) => doc.outbox.command[s] ?? 0)],
      ['telemetry', ...states.map((s) => doc.outbox.telemetry[s] ?? 0)],
    ],
  );
  if (doc.lag !== undefined) {
    const row = (kind: string, l: StatusLag): Array<string | number> => [
      kind,
      `< ${l.slaMs} ms`,
      `${l.oldestPendingAgeMs} ms`,
      l.recent.commits === 0 ? '-' : `<= ${l.recent.p99Ms ?? 'inf'} ms`,
      l.recent.commits,
      l.ok ? 'ok' : 'BREACH',
    ];
    out.table(
      ['lag', 'SLA', 'oldest pending', 'recent p99', 'commits', 'verdict'],
      [row('command', doc.lag.command), row('telemetry', doc.lag.telemetry)],
    );
  }
  for (const b of doc.sla?.breaches ?? []) out.text(`! ${b}`);
  if (doc.federation !== undefined)
    out.table(
      ['federation partner', 'sent', 'acked', 'rejected', 'unacked', 'received', 'refused'],
      doc.federation.partners.map((p) => [p.name, p.sent, p.acked, p.rejected, p.unacked, p.received, p.refused]),
    );
}
