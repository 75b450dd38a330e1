/**
 * `net-sync reconcile`: aligns the outbox with the stream: rows found in JetStream are marked
 * committed without republishing, the rest are published.
 */
import type { CommandContext } from '../command-context.js';
import { notImplemented } from './not-implemented.js';

/** Options of `net-sync reconcile` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface ReconcileOptions {
  /** --dry-run: print the plan, change nothing. */
  dryRun: boolean;
  /** --verify: afterwards check every outbox row is in the stream exactly once; 1 if not. */
  verify: boolean;
  /** --since: scan the stream from this long ago (ms) instead of from the oldest uncertain row. */
  sinceMs?: number;
}

// wired by the service owner: replace this body with the real run; return 0 ok / 1 failure,
// print results through ctx.out (ctx.out.result(doc, render) covers --json and humans).
/** Runs `net-sync reconcile`; returns the exit code. */
export async function runReconcile(ctx: CommandContext, options: ReconcileOptions): Promise<number> {
  void options;
  return notImplemented(ctx, 'reconcile');
}
