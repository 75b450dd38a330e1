/**
 * Structured logging with pino: constant messages, data in fields. Payloads are never logged
 * at info or above, and secrets never.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Creates the root logger. Logs go to stderr so that `--json` output on stdout stays clean. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    {
      level,
      base: { svc: 'net-sync', ...bindings },
      redact: { paths: ['pass', 'token', '*.pass', '*.token', 'payload', '*.payload'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Synchronous: lines must survive a SIGKILL; info and above are lifecycle events only.
    pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that discards everything, for tests and quiet CLI commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
