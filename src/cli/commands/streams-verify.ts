/**
 * `net-sync streams verify`: compares the configured streams and their consumers with the server
 * and lists drift. Exit 1 when any stream or consumer is missing or differs.
 */
import type { ConsumerDiff } from '../../core/consumer-spec.js';
import type { StreamDiff } from '../../core/stream-spec.js';
import { checkRetention, openAdminSession } from '../../service/admin-session.js';
import type { CommandContext } from '../command-context.js';
import type { Cell } from '../output.js';

/** Options of `net-sync streams verify`: none. */
export type StreamsVerifyOptions = Record<string, never>;

/** Table rows for one diff: one per drifting field, or one summary row. */
export function diffRows(diff: StreamDiff, outcome: string, error?: string): Cell[][] {
  if (diff.action === 'update') {
    return diff.drift.map((d) => [
      diff.stream,
      'update',
      outcome,
      d.field,
      JSON.stringify(d.want),
      JSON.stringify(d.have),
    ]);
  }
  return [[diff.stream, diff.action, error === undefined ? outcome : `${outcome}: ${error}`, '', '', '']];
}

/** Table rows for one consumer diff: one per drifting field, or one summary row. */
export function consumerDiffRows(diff: ConsumerDiff, outcome: string, error?: string): Cell[][] {
  if (diff.action === 'update') {
    return diff.drift.map((d) => [
      diff.stream,
      diff.consumer,
      'update',
      error === undefined ? outcome : `${outcome}: ${error}`,
      d.field,
      JSON.stringify(d.want),
      JSON.stringify(d.have),
    ]);
  }
  return [
    [diff.stream, diff.consumer, diff.action, error === undefined ? outcome : `${outcome}: ${error}`, '', '', ''],
  ];
}

/** Runs `net-sync streams verify`; returns the exit code. */
export async function runStreamsVerify(ctx: CommandContext, options: StreamsVerifyOptions): Promise<number> {
  void options;
  const session = await openAdminSession(ctx.config, ctx.logger, 10_000, ctx.signal);
  try {
    await checkRetention(session.streams, ctx.config);
    const diffs = await session.streams.verify(ctx.config.streams);
    const consumers = await session.consumers.verify(ctx.config.streams);
    const drift = diffs.filter((d) => d.action !== 'none');
    const ok = drift.length === 0 && consumers.length === 0;
    ctx.out.result({ ok, streams: diffs, consumers }, () => {
      ctx.out.table(
        ['stream', 'action', 'status', 'field', 'want', 'have'],
        diffs.flatMap((d) => diffRows(d, d.action === 'none' ? 'ok' : 'drift')),
      );
      if (consumers.length > 0)
        ctx.out.table(
          ['stream', 'consumer', 'action', 'status', 'field', 'want', 'have'],
          consumers.flatMap((d) => consumerDiffRows(d, 'drift')),
        );
      ctx.out.text(
        ok
          ? 'streams and consumers match the spec'
          : `${drift.length} stream(s) and ${consumers.length} consumer(s) drift from the spec`,
      );
    });
    return ok ? 0 : 1;
  } finally {
    await session.close();
  }
}
