/**
 * `net-sync status`: asks a running sidecar for its state over the local API and reports it.
 * Exit 1 when the sidecar is unreachable or not ready.
 */
import type { CommandContext } from '../command-context.js';

/** Options of `net-sync status` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface StatusOptions {
  /** --url: the sidecar's API base URL, no trailing slash. Absent: `http://${config.api.listen}`. */
  url?: string;
}

interface StatusDoc {
  peerId: string;
  nats: { state: string; streamsReady: boolean };
  outbox: { command: Record<string, number>; telemetry: Record<string, number> };
  oldestPendingAgeMs: number;
}

/** Runs `net-sync status`; returns the exit code. */
export async function runStatus(ctx: CommandContext, options: StatusOptions): Promise<number> {
  const base = options.url ?? `http://${ctx.config.api.listen}`;
  const headers: Record<string, string> = ctx.config.api.token === undefined ? {} : { authorization: `Bearer ${ctx.config.api.token}` };
  let doc: StatusDoc;
  try {
    const res = await fetch(`${base}/v1/status`, { headers, signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = (await res.json()) as StatusDoc;
  } catch (err) {
    ctx.out.result({ ok: false, error: `sidecar at ${base} unreachable: ${String(err)}` }, () => ctx.out.note(`sidecar at ${base} unreachable: ${String(err)}`));
    return 1;
  }
  const ok = doc.nats.streamsReady;
  ctx.out.result({ ok, ...doc }, () => {
    ctx.out.fields({ peer: doc.peerId, nats: doc.nats.state, 'streams ready': doc.nats.streamsReady, 'oldest pending (ms)': doc.oldestPendingAgeMs });
    const states = Object.keys(doc.outbox.command);
    ctx.out.table(['kind', ...states], [
      ['command', ...states.map((s) => doc.outbox.command[s] ?? 0)],
      ['telemetry', ...states.map((s) => doc.outbox.telemetry[s] ?? 0)],
    ]);
  });
  return ok ? 0 : 1;
}
