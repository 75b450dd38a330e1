/**
 * Placeholder result for commands whose handler the service owner has not wired yet:
 * says so on stderr (and as a JSON error under `--json`) and fails with exit 1.
 */
import type { CommandContext } from '../command-context.js';
import { ExitCode } from '../exit-code.js';

/** Reports `net-sync <command>: not implemented yet` and returns exit code 1. */
export function notImplemented(ctx: CommandContext, command: string): number {
  ctx.out.error('NOT_IMPLEMENTED', `${command}: not implemented yet`);
  return ExitCode.Failure;
}
