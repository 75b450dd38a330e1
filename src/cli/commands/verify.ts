/**
 * `net-sync verify`: reads every command message in JetStream (`<prefix>.command.>`, from
 * `--since` ago or from the beginning) and checks each with `verifyCommit` (digest, IDs,
 * endorsement signatures against the peers' keys, distinct in-cohort endorsers, quorum), and
 * that no `Nats-Msg-Id` appears twice. Exit 0 when all pass, 1 otherwise.
 */
import { verifyCommit, type CommitProblemCode } from '../../core/commit-verification.js';
import { readMembers } from '../../config/members-file.js';
import { fleetConfigured, type ConsensusConfig } from '../../config/schema.js';
import { resolveQuorum } from '../../core/consensus.js';
import { checkPlanQuorum, planShards, shardQuorum } from '../../core/shards.js';
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
  /** The quorum; in a fleet, that of its smallest shard (each command is checked against its own shard's). */
  quorum: number;
  cohort: number;
  /** In a fleet: its distinct members and `consensus.shardSize`. */
  members?: number;
  shardSize?: number;
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
  // A fleet's commands are checked against the shard each names, re-planned from the member list.
  const members = fleetConfigured(consensus) ? readMembers(consensus) : [];
  const scope = members.length > 0 ? { members, shardSize: consensus.shardSize } : { cohort: consensus.cohort };
  const quorum =
    members.length > 0 ? fleetQuorum(members, consensus) : resolveQuorum(consensus.quorum, consensus.cohort);
  const subject = `${subjects.prefix}.command.>`;
  const sinceMs = options.sinceMs === undefined ? 0 : Date.now() - options.sinceMs;
  const report: VerifyReport = {
    subject,
    quorum,
    cohort: consensus.cohort.length,
    ...(members.length > 0 ? { members: new Set(members).size, shardSize: consensus.shardSize } : {}),
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
        { verify: verifyPeerSignature, quorum: members.length > 0 ? consensus.quorum : quorum, ...scope },
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
        r.members === undefined
          ? ['cohort', r.cohort === 0 ? 'open' : r.cohort]
          : ['fleet', `${r.members} members, shards of ${r.shardSize}`],
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

// The quorum of the fleet's smallest shard; CONFIG_INVALID when a shard could not reach it.
function fleetQuorum(members: readonly string[], consensus: ConsensusConfig): number {
  const plan = planShards(members, consensus.shardSize);
  checkPlanQuorum(plan, consensus.quorum);
  return shardQuorum(consensus.quorum, Math.min(...plan.shards.map((s) => s.members.length)));
}
