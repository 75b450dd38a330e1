/**
 * `net-sync demo`: starts a local nats-server and sidecars, submits intents, takes NATS away
 * mid-run, brings it back, delivers one intent to an agent through the inbox, and shows
 * nothing was lost or duplicated.
 */
import { runDemoScenario, type DemoOptions } from '../../devkit/index.js';
import type { CommandContext } from '../command-context.js';

export type { DemoOptions };

/** Runs `net-sync demo`; exit 0 when the stream holds every intent exactly once. */
export async function runDemo(ctx: CommandContext, options: DemoOptions): Promise<number> {
  const say = (line: string): void => {
    if (!ctx.json) ctx.out.text(line);
  };
  const summary = await runDemoScenario(options, ctx.logger, say);
  ctx.out.result(summary, () => {
    ctx.out.table(
      ['phase', 'accepted', 'committed', 'seconds'],
      summary.phases.map((p) => [p.phase, p.accepted, p.committed, p.seconds.toFixed(2)]),
    );
    const s = summary.stream;
    ctx.out.table(
      ['in stream', 'distinct Nats-Msg-Id', 'duplicates', 'lost'],
      [[s.messages, s.distinctIds, s.duplicates, s.lost]],
    );
    ctx.out.text(
      summary.ok
        ? 'OK: every accepted intent is in JetStream exactly once, and the agent applied the inbox command once'
        : 'FAILED: see the tables above (--keep keeps the logs)',
    );
    if (summary.dir !== null) ctx.out.text(`kept ${summary.dir} (sidecar-*/sidecar.log, demo.log)`);
  });
  return summary.ok ? 0 : 1;
}
