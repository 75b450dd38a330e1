/**
 * `net-sync start`: runs the sidecar (HTTP API, outbox committer, mesh and telemetry scout
 * when enabled) until SIGINT/SIGTERM, then stops in reverse order.
 */
import type { CommandContext } from '../command-context.js';
import { notImplemented } from './not-implemented.js';

/** Options of `net-sync start` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface StartOptions {
  // none yet: start reads everything from config
}

// wired by the service owner: replace this body with the real run; return 0 ok / 1 failure,
// print results through ctx.out (ctx.out.result(doc, render) covers --json and humans).
/** Runs `net-sync start`; returns the exit code. */
export async function runStart(ctx: CommandContext, options: StartOptions): Promise<number> {
  void options;
  return notImplemented(ctx, 'start');
}
