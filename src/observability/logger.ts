/**
 * Structured logging with pino: constant messages, data in fields. Payloads are never logged
 * at info or above, and secrets never.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

function options(level: string, bindings: Record<string, unknown>): LoggerOptions {
  return {
    level,
    base: { svc: 'net-sync', ...bindings },
    redact: { paths: ['pass', 'token', '*.pass', '*.token', 'payload', '*.payload'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

/** Creates the root logger. Logs go to stderr so that `--json` output on stdout stays clean. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    options(level, bindings),
    // Synchronous: lines must survive a SIGKILL; info and above are lifecycle events only.
    pino.destination({ fd: 2, sync: true }),
  );
}

/**
 * A logger writing to the file at `path` (appended), for commands whose terminal shows
 * something else (the demo's story). `close()` flushes and closes the file; safe twice.
 */
export function createFileLogger(level: string, path: string): { logger: Logger; close(): void } {
  const dest = pino.destination({ dest: path, sync: true, append: true });
  const logger = pino(options(level, {}), dest);
  let closed = false;
  return {
    logger,
    close: () => {
      if (closed) return;
      closed = true;
      dest.end();
    },
  };
}

/** A logger that discards everything, for tests and quiet CLI commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
