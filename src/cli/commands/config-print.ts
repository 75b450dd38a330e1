/**
 * `net-sync config print`: the effective config (defaults < file < env < flags) with secrets
 * masked; YAML for people, one JSON document with `--json`.
 */
import { maskSecrets, printConfig } from '../../config/print-config.js';
import type { CommandContext } from '../command-context.js';
import { ExitCode } from '../exit-code.js';

/** Options of `net-sync config print`: none (--json selects JSON). */
export type ConfigPrintOptions = Record<string, never>;

/** Runs `net-sync config print`. */
export function runConfigPrint(ctx: CommandContext, options: ConfigPrintOptions): number {
  void options;
  ctx.out.result(maskSecrets(ctx.config), () => ctx.out.text(printConfig(ctx.config, 'yaml').trimEnd()));
  return ExitCode.Ok;
}
