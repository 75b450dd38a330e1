/**
 * `net-sync verify`: reads every command message in JetStream (`<prefix>.command.>`, from
 * `--since` ago or from the beginning) and checks each with `verifyCommit` (digest, IDs,
 * endorsement signatures against the peers' keys, distinct in-cohort endorsers, quorum), and
 * that no `Nats-Msg-Id` appears twice. Exit 0 when all pass, 1 otherwise.
 */
import { verifyCommit, type CommitProblemCode } from '../../core/commit-verification.js';
import { resolveQuorum } from '../../core/consensus.js';
import { verifyPeerSignature } from '../../mesh/peer-signature.js';
import { openAdminSession } from '../../service/admin-session.js';
import type { CommandContext } from '../command-context.js';

/** Options of `net-sync verify` (parsed and validated by the CLI; see src/cli/registry.ts). */
export interface VerifyOptions {
  /** --since: only messages stored this long ago or later (ms); default: the whole stream. */
  sinceMs?: number;
  /** --allow-unendorsed: accept messages without endorsements (published with consensus off). */
  allowUnendorsed?: boolean;
}

/** One failing message in the report. */
interface Failure {
  stream: string;
  seq: number;
  msgId: string | null;
  problems: Array<{ code: CommitProblemCode | 'duplicate-msg-id'; detail: string }>;
}

/** What `verify` prints (the `--json` document). */
export interface VerifyReport {
  subject: string;
  quorum: number;
  cohort: number;
  messages: number;
  verified: number;
  unendorsed: number;
  duplicates: number;
  failures: Failure[];
  ok: boolean;
}

const MAX_LISTED_FAILURES = 1_000;

/** Runs `net-sync verify`; returns the exit code. */
export async function runVerify(ctx: CommandContext, options: VerifyOptions): Promise<number> {
  const { consensus, subjects } = ctx.config;
  const quorum = resolveQuorum(consensus.quorum, consensus.cohort);
  const subject = `${subjects.prefix}.command.>`;
  const sinceMs = options.sinceMs === undefined ? 0 : Date.now() - options.sinceMs;
  const report: VerifyReport = {
    subject,
    quorum,
    cohort: consensus.cohort.length,
    messages: 0,
    verified: 0,
    unendorsed: 0,
    duplicates: 0,
    failures: [],
    ok: true,
  };
  const seen = new Map<string, number>();
  let failed = 0;
  const session = await openAdminSession(ctx.config, ctx.logger, 10_000, ctx.signal);
  try {
    for await (const m of session.reader.scanAll(subject, sinceMs, ctx.signal)) {
      report.messages++;
      const problems: Failure['problems'] = [];
      const copies = m.msgId === undefined ? 1 : (seen.get(m.msgId) ?? 0) + 1;
      if (m.msgId !== undefined) seen.set(m.msgId, copies);
      if (copies > 1) {
        report.duplicates++;
        problems.push({ code: 'duplicate-msg-id', detail: `copy ${copies} of ${m.msgId}` });
      }
      const v = await verifyCommit(
        { body: m.data, headers: m.headers },
        { verify: verifyPeerSignature, quorum, cohort: consensus.cohort },
      );
      const unendorsed =
        options.allowUnendorsed === true &&
        v.validEndorsers.length === 0 &&
        v.problems.every((p) => p.code === 'below-quorum' || p.code === 'digest-mismatch');
      if (unendorsed) report.unendorsed++;
      else problems.push(...v.problems);
      if (problems.length === 0) report.verified++;
      else if (failed++ < MAX_LISTED_FAILURES)
        report.failures.push({ stream: m.stream, seq: m.seq, msgId: m.msgId ?? null, problems });
    }
  } finally {
    await session.close();
  }
  report.ok = failed === 0;
  print(ctx, report, failed);
  return report.ok ? 0 : 1;
}

function print(ctx: CommandContext, r: VerifyReport, failed: number): void {
  ctx.out.result(r, () => {
    ctx.out.table(
      ['figure', 'value'],
      [
        ['subject', r.subject],
        ['quorum', r.quorum],
        ['cohort', r.cohort === 0 ? 'open' : r.cohort],
        ['messages', r.messages],
        ['verified', r.verified],
        ['unendorsed (allowed)', r.unendorsed],
        ['duplicate Nats-Msg-Id copies', r.duplicates],
        ['failed', failed],
      ],
    );
    if (r.failures.length > 0) {
      ctx.out.table(
        ['stream', 'seq', 'Nats-Msg-Id', 'problems'],
        r.failures.map((f) => [f.stream, f.seq, f.msgId, f.problems.map((p) => `${p.code} (${p.detail})`).join('; ')]),
      );
    }
    ctx.out.text(r.ok ? 'ok: every commit verifies, none duplicated' : 'FAILED');
  });
}
