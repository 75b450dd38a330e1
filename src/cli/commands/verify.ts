/**
 * `net-sync verify`: checks the outbox against JetStream: every committed row present exactly
 * once, none lost or duplicated; exits 1 on a mismatch.
 */
import type { CommandContext } from '../command-context.js';
import { notImplemented } from './not-implemented.js';

/** Options of `net-sync verify` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface VerifyOptions {
  // none yet
}

// wired by the service owner: replace this body with the real run; return 0 ok / 1 failure,
// print results through ctx.out (ctx.out.result(doc, render) covers --json and humans).
/** Runs `net-sync verify`; returns the exit code. */
export async function runVerify(ctx: CommandContext, options: VerifyOptions): Promise<number> {
  void options;
  return notImplemented(ctx, 'verify');
}
