/**
 * What a command handler receives, and what the CLI shell needs from the process. Handlers
 * never read argv or env themselves: they get the loaded config and their parsed options.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Output } from './output.js';

/** The slice of a writable stream the CLI writes to. */
export interface TextSink {
  write(chunk: string): unknown;
  /** True when the sink is a terminal. */
  isTTY?: boolean;
}

/** The process as the CLI sees it; tests pass fakes. */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  /** The environment; only `NET_SYNC_*` is read. */
  env: Record<string, string | undefined>;
  /** Creates the command's logger; default: pino to stderr at `log.level`. */
  createLogger?: (level: string) => Logger;
}

/** Everything a command handler gets besides its own options. */
export interface CommandContext {
  /** The validated effective config (defaults < file < env < flags). */
  config: Config;
  /** `--json` was given: print exactly one JSON document on stdout. */
  json: boolean;
  /** stdout is a terminal: tables and friendlier text are fine. */
  tty: boolean;
  /** Where results go; see {@link Output}. */
  out: Output;
  /** Structured logs, to stderr, at `log.level`. */
  logger: Logger;
  /** Aborted on the first SIGINT/SIGTERM: long-running commands stop cleanly and return. */
  signal: AbortSignal;
  /** A test-only fault to arm (`NETSYNC_TEST_FAULT`, docs/payloads.md); never set in production. */
  testFault?: string;
}

/**
 * A command handler: does the work, prints through `ctx.out`, and returns the exit code
 * (0 ok, 1 failure). Throwing a `ConfigError` exits 2, any other error exits 1.
 */
export type CommandHandler<O> = (ctx: CommandContext, options: O) => Promise<number> | number;
