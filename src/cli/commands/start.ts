/**
 * `net-sync start`: runs the sidecar (HTTP API, outbox committer, mesh and telemetry scout
 * when enabled) until SIGINT/SIGTERM, then stops in reverse order within a bounded time. SIGHUP
 * reloads the fleet's member list (`consensus.membersFile`) and re-plans the shards.
 */
import type { PayloadFaults } from '../../service/payload-wiring.js';
import { Sidecar } from '../../service/sidecar.js';
import type { CommandContext } from '../command-context.js';

/**
 * Options of `net-sync start` (parsed and validated by the CLI; see src/cli/registry.ts): none,
 * start reads everything from config.
 */
export type StartOptions = Record<string, never>;

/**
 * The test-only fault (`NETSYNC_TEST_FAULT`, docs/payloads.md#testing-the-crash-window):
 * `kill-after-payload-upload` SIGKILLs the process right after a payload object is uploaded,
 * before its command is published.
 */
function testFaults(ctx: CommandContext): PayloadFaults {
  const fault = ctx.testFault;
  if (fault === undefined) return {};
  if (fault !== 'kill-after-payload-upload')
    throw new Error(`NETSYNC_TEST_FAULT: unknown fault ${JSON.stringify(fault)}`);
  ctx.logger.warn({ fault }, 'test fault armed: this process kills itself after the next payload upload');
  return { afterUpload: () => process.kill(process.pid, 'SIGKILL') };
}

/** How long SIGTERM may take to drain in-flight publishes before we exit anyway. */
const DRAIN_TIMEOUT_MS = 15_000;

/** Runs `net-sync start`; returns the exit code once stopped by a signal. */
export async function runStart(ctx: CommandContext, options: StartOptions): Promise<number> {
  void options;
  const sidecar = await Sidecar.create(ctx.config, ctx.logger, testFaults(ctx));
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
  const onHangup = (): void => reloadMembers(ctx, sidecar);
  process.on('SIGHUP', onHangup);
  try {
    return await runUntilStopped(ctx, sidecar);
  } finally {
    process.off('SIGHUP', onHangup);
  }
}

// A bad file keeps the current plan: the fleet keeps committing while the operator fixes it.
function reloadMembers(ctx: CommandContext, sidecar: Sidecar): void {
  try {
    if (sidecar.mesh?.reloadMembers(ctx.config.consensus) == null)
      ctx.logger.warn({}, 'SIGHUP: no fleet to reload (consensus.members / consensus.membersFile unset)');
  } catch (err) {
    ctx.logger.error({ err }, 'SIGHUP: member list not reloaded; the current shards stay');
  }
}

async function runUntilStopped(ctx: CommandContext, sidecar: Sidecar): Promise<number> {
  const signalled = new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const fatal = await Promise.race([signalled.then(() => null), sidecar.fatal]);
  if (fatal !== null) {
    await sidecar.stop().catch((err: unknown) => ctx.logger.error({ err }, 'stop failed'));
    throw fatal;
  }
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), DRAIN_TIMEOUT_MS).unref());
  // A stop that fails (an outbox gone read-only or corrupt) must still end the process.
  const stopped = sidecar.stop().then(
    () => 'stopped' as const,
    (err: unknown) => {
      ctx.logger.error({ err }, 'stop failed; exiting anyway: rows in flight are looked up on restart');
      return 'failed' as const;
    },
  );
  const outcome = await Promise.race([stopped, timeout]);
  if (outcome === 'failed') return 1;
  if (outcome === 'timeout') {
    ctx.logger.error(
      { timeoutMs: DRAIN_TIMEOUT_MS },
      'drain timed out; rows in flight stay in-flight and are looked up on restart',
    );
    return 1;
  }
  return 0;
}
