/**
 * `net-sync demo`: starts a local nats-server and sidecars, submits intents, takes NATS away
 * mid-run, brings it back, and shows nothing was lost or duplicated.
 */
import { runDemoScenario } from '../../service/demo-run.js';
import type { CommandContext } from '../command-context.js';

/** Options of `net-sync demo` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface DemoOptions {
  /** --intents: intents submitted while NATS is up. */
  intents: number;
  /** --outage-intents: intents submitted while NATS is away. */
  outageIntents: number;
  /** --sidecars: sidecar processes to run. */
  sidecars: number;
  /** --keep: keep the temp dir (stores, logs) instead of deleting it. */
  keep: boolean;
  /** --no-mesh: each sidecar commits alone (consensus off). */
  mesh: boolean;
}

/** Runs `net-sync demo`; exit 0 when the stream holds every intent exactly once. */
export async function runDemo(ctx: CommandContext, options: DemoOptions): Promise<number> {
  const say = (line: string): void => {
    if (!ctx.json) ctx.out.text(line);
  };
  const summary = await runDemoScenario(options, ctx.logger, say);
  ctx.out.result(summary, () => {
    ctx.out.table(['phase', 'accepted', 'committed', 'seconds'], summary.phases.map((p) => [p.phase, p.accepted, p.committed, p.seconds.toFixed(2)]));
    const s = summary.stream;
    ctx.out.table(['in stream', 'distinct Nats-Msg-Id', 'duplicates', 'lost'], [[s.messages, s.distinctIds, s.duplicates, s.lost]]);
    ctx.out.text(summary.ok ? 'OK: every accepted intent is in JetStream exactly once' : 'FAILED: see the table above');
    if (summary.dir !== null) ctx.out.text(`kept ${summary.dir}`);
  });
  return summary.ok ? 0 : 1;
}
