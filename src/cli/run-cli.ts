/**
 * The CLI shell: argv → commander → config (defaults < file < env < flags) → one command
 * handler → exit code. Usage errors and invalid config exit 2, failures 1.
 */
import { CommanderError, type Command } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { loadConfig } from '../config/load-config.js';
import { NetSyncError } from '../core/errors.js';
import { createLogger } from '../observability/logger.js';
import { buildProgram, handlerOptions } from './build-program.js';
import type { CliIo } from './command-context.js';
import { configInputFrom, normalizeOptionalFlags } from './config-flags.js';
import { ExitCode } from './exit-code.js';
import { Output } from './output.js';
import type { CommandSpec } from './registry.js';

function reportError(out: Output, err: unknown): number {
  if (err instanceof NetSyncError) {
    out.error(err.code, err.message, err instanceof ConfigError ? { issues: err.issues } : {});
    return err.code === 'CONFIG_INVALID' ? ExitCode.Usage : ExitCode.Failure;
  }
  // A bug, not an expected failure: keep the stack for the report.
  if (err instanceof Error && err.stack !== undefined) out.note(err.stack);
  out.error('INTERNAL', err instanceof Error ? err.message : String(err));
  return ExitCode.Failure;
}

/**
 * Test-only fault hook (docs/payloads.md#testing-the-crash-window), read by `start`. Outside the
 * `NET_SYNC_` prefix on purpose: it is no config key, and `config print` never shows it.
 */
export const TEST_FAULT_ENV = 'NETSYNC_TEST_FAULT';

async function runCommand(spec: CommandSpec, command: Command, io: CliIo, signal: AbortSignal): Promise<number> {
  const globals = command.optsWithGlobals();
  const json = globals['json'] === true;
  const tty = io.stdout.isTTY === true;
  const out = new Output({ stdout: io.stdout, stderr: io.stderr, json, tty });
  try {
    const config = loadConfig({ env: io.env, ...configInputFrom(globals) });
    const logger = (io.createLogger ?? createLogger)(config.log.level);
    const testFault = io.env[TEST_FAULT_ENV];
    const ctx = { config, json, tty, out, logger, signal, ...(testFault ? { testFault } : {}) };
    return await spec.handler(ctx, handlerOptions(spec, command));
  } catch (err) {
    return reportError(out, err);
  }
}

function usageExit(err: CommanderError, io: CliIo, argv: readonly string[]): number {
  if (err.exitCode === 0) return ExitCode.Ok; // --help, help
  // commander has already written the message to stderr; --json also gets a document.
  if (argv.includes('--json')) {
    const message = err.message.replace(/^error: /, '');
    io.stdout.write(`${JSON.stringify({ error: { code: 'USAGE', message } })}\n`);
  }
  return ExitCode.Usage;
}

/**
 * Runs one `net-sync` invocation (`argv` without node and script) and returns its exit code;
 * never throws for usage, config or command errors. `signal` reaches the handler as ctx.signal.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const signal = options.signal ?? new AbortController().signal;
  let code: number = ExitCode.Ok;
  const program = buildProgram(io, async (spec, command) => {
    code = await runCommand(spec, command, io, signal);
  });
  try {
    await program.parseAsync(normalizeOptionalFlags(argv), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return usageExit(err, io, argv);
    throw err;
  }
  return code;
}
