#!/usr/bin/env node
/**
 * Bin entry of `net-sync`. The polyfills come first: libp2p needs them before it loads.
 * The first SIGINT/SIGTERM aborts the running command (ctx.signal); a second one exits at once.
 */
import '../polyfills.js';
import { runCli } from './run-cli.js';
import { ExitCode } from './exit-code.js';

/** How long the process may linger after the command returned. */
const EXIT_GRACE_MS = 5_000;

const controller = new AbortController();
let signals = 0;
const onSignal = (sig: NodeJS.Signals): void => {
  signals += 1;
  if (signals > 1) process.exit(ExitCode.Failure);
  controller.abort(new Error(`received ${sig}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

process.exitCode = await runCli(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr, env: process.env },
  { signal: controller.signal },
);
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
// The command is done: whatever still holds the event loop (a socket a failed stop left open)
// must not keep the process alive past a short grace.
setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
