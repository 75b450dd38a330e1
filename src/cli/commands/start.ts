/**
 * `net-sync start`: runs the sidecar (HTTP API, outbox committer, mesh and telemetry scout
 * when enabled) until SIGINT/SIGTERM, then stops in reverse order within a bounded time.
 */
import { Sidecar } from '../../service/sidecar.js';
import type { CommandContext } from '../command-context.js';

/**
 * Options of `net-sync start` (parsed and validated by the CLI; see src/cli/registry.ts): none,
 * start reads everything from config.
 */
export type StartOptions = Record<string, never>;

/** How long SIGTERM may take to drain in-flight publishes before we exit anyway. */
const DRAIN_TIMEOUT_MS = 15_000;

/** Runs `net-sync start`; returns the exit code once stopped by a signal. */
export async function runStart(ctx: CommandContext, options: StartOptions): Promise<number> {
  void options;
  const sidecar = await Sidecar.create(ctx.config, ctx.logger);
  try {
    await sidecar.start();
  } catch (err) {
    await sidecar.stop();
    throw err;
  }
  ctx.out.result(
    { started: true, peerId: sidecar.peerId, api: sidecar.api.boundAddress, nats: sidecar.connector.state },
    () => {
      ctx.out.text(
        `net-sync ${sidecar.peerId} listening on http://${sidecar.api.boundAddress} (NATS ${sidecar.connector.state})`,
      );
    },
  );
  const stopped = new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const fatal = await Promise.race([stopped.then(() => null), sidecar.fatal]);
  if (fatal !== null) {
    await sidecar.stop();
    throw fatal;
  }
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), DRAIN_TIMEOUT_MS).unref());
  const outcome = await Promise.race([sidecar.stop().then(() => 'stopped' as const), timeout]);
  if (outcome === 'timeout') {
    ctx.logger.error(
      { timeoutMs: DRAIN_TIMEOUT_MS },
      'drain timed out; rows in flight stay in-flight and are looked up on restart',
    );
    return 1;
  }
  return 0;
}
