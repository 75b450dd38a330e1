/**
 * `net-sync demo`: starts a local nats-server and sidecars, submits intents, takes NATS away
 * mid-run, and shows nothing was lost or duplicated.
 */
import type { CommandContext } from '../command-context.js';
import { notImplemented } from './not-implemented.js';

/** Options of `net-sync demo` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface DemoOptions {
  /** --intents: intents submitted while NATS is up. */
  intents: number;
  /** --outage-intents: intents submitted while NATS is away. */
  outageIntents: number;
  /** --keep: keep the temp dir (stores, logs) instead of deleting it. */
  keep: boolean;
}

// wired by the service owner: replace this body with the real run; return 0 ok / 1 failure,
// print results through ctx.out (ctx.out.result(doc, render) covers --json and humans).
/** Runs `net-sync demo`; returns the exit code. */
export async function runDemo(ctx: CommandContext, options: DemoOptions): Promise<number> {
  void options;
  return notImplemented(ctx, 'demo');
}
