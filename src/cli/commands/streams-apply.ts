/**
 * `net-sync streams apply [--dry-run]`: creates or updates the configured streams, then their
 * consumers; idempotent, prints the diff. Exit 1 when any stream or consumer could not be applied.
 */
import { checkRetention, openAdminSession } from '../../service/admin-session.js';
import type { CommandContext } from '../command-context.js';
import { consumerDiffRows, diffRows } from './streams-verify.js';

/** Options of `net-sync streams apply`. */
export interface StreamsApplyOptions {
  /** --dry-run: print the diff, change nothing. */
  dryRun: boolean;
}

/** Runs `net-sync streams apply`; returns the exit code. */
export async function runStreamsApply(ctx: CommandContext, options: StreamsApplyOptions): Promise<number> {
  const session = await openAdminSession(ctx.config, ctx.logger, 10_000, ctx.signal);
  try {
    await checkRetention(session.streams, ctx.config);
    const results = await session.streams.apply(ctx.config.streams, { dryRun: options.dryRun });
    const consumers = await session.consumers.apply(ctx.config.streams, { dryRun: options.dryRun });
    const failed = [...results, ...consumers].filter((r) => r.outcome === 'failed');
    const doc = {
      dryRun: options.dryRun,
      streams: results.map((r) => ({
        ...r.diff,
        outcome: r.outcome,
        ...(r.error === undefined ? {} : { error: r.error.message }),
      })),
      consumers: consumers.map((r) => ({
        ...r.diff,
        outcome: r.outcome,
        ...(r.error === undefined ? {} : { error: r.error.message }),
      })),
    };
    ctx.out.result(doc, () => {
      ctx.out.table(
        ['stream', 'action', 'outcome', 'field', 'want', 'have'],
        results.flatMap((r) => diffRows(r.diff, r.outcome, r.error?.message)),
      );
      if (consumers.length > 0)
        ctx.out.table(
          ['stream', 'consumer', 'action', 'outcome', 'field', 'want', 'have'],
          consumers.flatMap((r) => consumerDiffRows(r.diff, r.outcome, r.error?.message)),
        );
    });
    return failed.length > 0 ? 1 : 0;
  } finally {
    await session.close();
  }
}
