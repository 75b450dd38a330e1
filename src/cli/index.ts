/**
 * src/cli owns the command line: argv and env to Config, then one command handler, then an
 * exit code (0 ok, 1 failure, 2 bad usage or config). It is the only part that reads argv and
 * env. Commands are declared in `registry.ts`; each handler lives in `commands/<name>.ts`.
 */
export { runCli } from './run-cli.js';
export { buildProgram, handlerOptions, type CommandRunner } from './build-program.js';
export { COMMANDS, COMMAND_GROUPS, type CommandSpec, type OptionSpec } from './registry.js';
export type { CliIo, CommandContext, CommandHandler, TextSink } from './command-context.js';
export {
  CONFIG_FLAGS,
  addGlobalOptions,
  configInputFrom,
  normalizeOptionalFlags,
  type ConfigFlag,
  type ConfigInput,
} from './config-flags.js';
export { ExitCode } from './exit-code.js';
export { Output, type Cell } from './output.js';
