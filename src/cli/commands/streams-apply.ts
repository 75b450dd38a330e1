/**
 * `net-sync streams apply`: creates or updates the declared streams (`streams` in config) so
 * the server matches them; idempotent.
 */
import type { CommandContext } from '../command-context.js';
import { notImplemented } from './not-implemented.js';

/** Options of `net-sync streams apply` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface StreamsApplyOptions {
  /** --dry-run: print the diff, change nothing. */
  dryRun: boolean;
}

// wired by the service owner: replace this body with the real run; return 0 ok / 1 failure,
// print results through ctx.out (ctx.out.result(doc, render) covers --json and humans).
/** Runs `net-sync streams apply`; returns the exit code. */
export async function runStreamsApply(ctx: CommandContext, options: StreamsApplyOptions): Promise<number> {
  void options;
  return notImplemented(ctx, 'streams apply');
}
