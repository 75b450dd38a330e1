/**
 * `net-sync reconcile`: aligns the outbox with the stream: rows found in JetStream are marked
 * committed without republishing, the rest are published; `--verify` also checks committed
 * rows are still there. With federation on, it also reports the gaps per partner (events
 * committed without a receipt after `federation.ackTimeoutMs`). Exit 0 when aligned and no gap,
 * 1 otherwise. `--verify` also checks that each committed command's payload object (docs/payloads.md)
 * exists with its digest.
 */
import { SingleBar, Presets } from 'cli-progress';
import { SqliteOutbox } from '../../buffer/index.js';
import type { FederationStatus } from '../../core/federation-receipt.js';
import type { PayloadRefReport } from '../../payloads/index.js';
import type { ReconcileReport } from '../../reconcile/reconciler.js';
import { SystemClock } from '../../runtime/system-clock.js';
import { openAdminSession } from '../../service/admin-session.js';
import { deadLetterNotices } from '../../service/dead-letters.js';
import { offlineFederationStatus } from '../../service/federation-wiring.js';
import { PayloadWiring } from '../../service/payload-wiring.js';
import { reconcileOutbox } from '../../service/reconcile-outbox.js';
import type { CommandContext } from '../command-context.js';

/** Options of `net-sync reconcile` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface ReconcileOptions {
  /** --dry-run: print the plan, change nothing. */
  dryRun: boolean;
  /** --verify: also check committed rows are still in the stream; 1 if any were lost. */
  verify: boolean;
  /** --since: scan the stream from this long ago (ms) instead of from the oldest uncertain row. */
  sinceMs?: number;
}

/** Runs `net-sync reconcile`; returns the exit code. */
export async function runReconcile(ctx: CommandContext, options: ReconcileOptions): Promise<number> {
  const clock = new SystemClock();
  const outbox = SqliteOutbox.open({ ...ctx.config.buffer, logger: ctx.logger });
  const bar =
    ctx.tty && !ctx.json
      ? new SingleBar({ format: '{phase} [{bar}] {value}/{total}', hideCursor: true }, Presets.shades_classic)
      : null;
  try {
    const session = await openAdminSession(ctx.config, ctx.logger, 10_000, ctx.signal);
    // Commands stored by reference get their object uploaded first, as the sidecar does it.
    const payloads = new PayloadWiring({
      config: ctx.config,
      outbox,
      connector: session.connector,
      clock,
      logger: ctx.logger,
    });
    try {
      let phase = '';
      const report = await reconcileOutbox({
        outbox,
        publisher: payloads.publisher(session.publisher),
        reader: session.reader,
        clock,
        logger: ctx.logger,
        leaseOwner: `reconcile:${process.pid}`,
        scanSkewMs: ctx.config.commit.scanSkewMs,
        window: ctx.config.commit.window,
        batchRows: ctx.config.commit.batchRows,
        dryRun: options.dryRun,
        verify: options.verify,
        firstSeq: session.firstSeq,
        deadLetter: deadLetterNotices(ctx.config),
        ...(options.sinceMs === undefined ? {} : { scanFromMs: clock.now() - options.sinceMs }),
        signal: ctx.signal,
        onProgress: (p, done, total) => {
          if (bar === null) return;
          if (p !== phase) {
            if (phase !== '') bar.stop();
            phase = p;
            bar.start(total, done, { phase: p });
          } else bar.update(done);
        },
      });
      bar?.stop();
      const federation = offlineFederationStatus(ctx.config, outbox, clock);
      const payloadRefs = options.verify ? await payloads.verify(ctx.signal) : undefined;
      print(ctx, report, federation, payloadRefs);
      return report.aligned && (federation?.gaps.length ?? 0) === 0 && (payloadRefs?.problems.length ?? 0) === 0
        ? 0
        : 1;
    } finally {
      await session.close();
    }
  } finally {
    bar?.stop();
    await outbox.close();
  }
}

function print(
  ctx: CommandContext,
  r: ReconcileReport,
  federation: FederationStatus | undefined,
  payloadRefs: PayloadRefReport | undefined,
): void {
  const withRefs = payloadRefs === undefined ? r : { ...r, payloadRefs };
  const doc =
    federation === undefined
      ? withRefs
      : {
          ...withRefs,
          federation: {
            partners: federation.partners.map((p) => ({
              name: p.name,
              sent: p.sent,
              acked: p.acked,
              rejected: p.rejected,
              unacked: p.unacked,
              gaps: federation.gaps.filter((g) => g.partner === p.name).length,
            })),
            gaps: federation.gaps,
          },
        };
  ctx.out.result(doc, () => {
    ctx.out.table(
      ['figure', 'value'],
      [
        ['rows examined', r.examined],
        ['found in stream (marked committed, not republished)', r.foundInStream],
        [r.dryRun ? 'would publish' : 'published', r.published],
        ['unresolved', r.unresolved],
        ['verified committed', r.verified],
        ['acknowledged but lost', r.lost.length],
        ['removed by retention', r.retentionExpired],
        ['dead (refused by NATS)', r.dead.length],
        ...(payloadRefs === undefined
          ? []
          : [
              ['payload objects checked', payloadRefs.checked],
              ['payload objects missing or not matching', payloadRefs.problems.length],
            ]),
      ],
    );
    for (const p of payloadRefs?.problems ?? [])
      ctx.out.text(`PAYLOAD ${p.correlationId} ${p.bucket}/${p.name}: ${p.problem}`);
    for (const d of r.dead) ctx.out.text(`dead ${d.correlationId} ${d.subject}: ${d.reason}`);
    for (const l of r.lost)
      ctx.out.text(`LOST ${l.correlationId} ${l.subject} ${l.stream ?? '?'}#${l.seq ?? '?'} (${l.kind})`);
    if (r.deferredTo !== null) ctx.out.text(`publishing deferred to ${r.deferredTo}, which holds the publisher lease`);
    if (r.publishError !== null) ctx.out.text(`publishing stopped: ${r.publishError}`);
    ctx.out.text(r.aligned ? 'aligned: the outbox and the stream agree' : 'NOT aligned');
    for (const g of federation?.gaps ?? [])
      ctx.out.text(`GAP ${g.partner} ${g.eventId} #${g.streamSeq}: no receipt after ${g.ageMs} ms`);
  });
}
