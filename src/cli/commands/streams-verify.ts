/**
 * `net-sync streams verify`: compares the declared streams with the server; exits 1 on any
 * drift or missing stream.
 */
import type { CommandContext } from '../command-context.js';
import { notImplemented } from './not-implemented.js';

/** Options of `net-sync streams verify` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface StreamsVerifyOptions {
  // none yet: the desired streams come from config
}

// wired by the service owner: replace this body with the real run; return 0 ok / 1 failure,
// print results through ctx.out (ctx.out.result(doc, render) covers --json and humans).
/** Runs `net-sync streams verify`; returns the exit code. */
export async function runStreamsVerify(ctx: CommandContext, options: StreamsVerifyOptions): Promise<number> {
  void options;
  return notImplemented(ctx, 'streams verify');
}
