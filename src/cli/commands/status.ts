/**
 * `net-sync status`: asks a running sidecar for its state (outbox counts, NATS and mesh
 * health, lag) over its HTTP API.
 */
import type { CommandContext } from '../command-context.js';
import { notImplemented } from './not-implemented.js';

/** Options of `net-sync status` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface StatusOptions {
  /** --url: the sidecar's API base URL, no trailing slash. Absent: `http://${config.api.listen}`. */
  url?: string;
}

// wired by the service owner: replace this body with the real run; return 0 ok / 1 failure,
// print results through ctx.out (ctx.out.result(doc, render) covers --json and humans).
/** Runs `net-sync status`; returns the exit code. */
export async function runStatus(ctx: CommandContext, options: StatusOptions): Promise<number> {
  void options;
  return notImplemented(ctx, 'status');
}
