/**
 * Process exit codes of `net-sync` (a stable contract): 0 ok, 1 failure, 2 bad usage or config.
 */
export const ExitCode = {
  /** The command did what was asked. */
  Ok: 0,
  /** The command ran and failed (NATS away, drift found, file exists, ...). */
  Failure: 1,
  /** Bad usage (unknown flag, missing argument) or invalid config. Nothing was done. */
  Usage: 2,
} as const;

/** One of {@link ExitCode}'s values. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
