/**
 * Makes sure the nats-server processes we spawn die with us: on a normal exit, on an unhandled
 * SIGINT/SIGTERM, and even when we are SIGKILLed (a watchdog holds a pipe to us). By PID only.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const live = new Map<ChildProcess, ChildProcess | undefined>();
let hooked = false;

/**
 * Tracks `child` until it exits: SIGKILLs it when this process exits, and starts a watchdog
 * that SIGKILLs it if this process dies without running exit handlers.
 */
export function reapOnExit(child: ChildProcess): void {
  installHooks();
  const dog = child.pid === undefined ? undefined : spawnWatchdog(child.pid);
  live.set(child, dog);
  child.once('exit', () => {
    live.delete(child);
    // The child is gone: stop its watchdog before its PID can be reused.
    killPid(dog?.pid);
  });
}

function killPid(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function killAll(): void {
  for (const [child, dog] of live) {
    killPid(child.pid);
    killPid(dog?.pid);
  }
  live.clear();
}

function installHooks(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      // When someone else handles the signal (the CLI drains the sidecar first), leave the
      // servers to the 'exit' hook. Alone, we restore the default: kill them, then die.
      if (process.listenerCount(sig) > 1) return;
      killAll();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// A detached `sh` that SIGKILLs `pid` once its stdin (a pipe from us) closes, i.e. we died.
function spawnWatchdog(pid: number): ChildProcess {
  const dog = spawn('/bin/sh', ['-c', 'read _ignored; kill -9 "$0" 2>/dev/null', String(pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  dog.on('error', () => undefined);
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
}
