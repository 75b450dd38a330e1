/**
 * The inbox's oracle: every command the stream holds is held against what the agent applied
 * and the delivery dead-letter notices. `judgeInbox()` is a pure function.
 *
 * - lost: in the stream, never applied and never dead-lettered;
 * - applied twice: the agent answered SUCCESS to a second copy, unless the copy before it was
 *   pushed by an inbox sidecar that was then SIGKILLed, answered within `excuseMs` before that
 *   SIGKILL or after it, and the second copy came from the restarted sidecar (the record of the
 *   application died with the process; see {@link excusedByKill});
 * - dead letters: exactly one notice for each `drop` and `fail` command, none for the others;
 *   a `drop` or `fail` command is never applied.
 */

/** How the test agent answers a command (`payload.mode`, see test/support/test-agent.ts). */
export type AgentMode = 'ok' | 'retry-once' | 'drop' | 'fail';

/** Modes whose commands the agent applies. */
export const APPLIED_MODES: ReadonlySet<string> = new Set(['ok', 'retry-once']);

/** One command of the stream. */
export interface InboxCommandEntry {
  correlationId: string;
  mode: string;
  seq: number;
}

/** One push, as the agent recorded it. */
export interface AgentPush {
  correlationId: string;
  arrivedAtMs: number;
  atMs: number;
  applied: boolean;
  verified: boolean;
}

/** A SIGKILL of the inbox sidecar, ms since epoch. */
export interface InboxSidecarKill {
  /** When the SIGKILL was sent. */
  atMs: number;
  /** When its restart began (before the spawn): no push of the new process arrives earlier. */
  restartedAtMs: number;
}

/** What {@link judgeInbox} judges. */
export interface InboxOracleInput {
  commands: readonly InboxCommandEntry[];
  pushes: readonly AgentPush[];
  /** Delivery dead-letter notices (stage `delivery`), by the correlation ID they name. */
  notices: ReadonlyArray<{ correlationId: string; reason: string }>;
  /** The SIGKILLs of the inbox sidecar. */
  kills: readonly InboxSidecarKill[];
  /** How long before a SIGKILL an answered SUCCESS excuses a second application. Default 2 s. */
  excuseMs?: number;
}

/** The verdict. The scenario asserts lost = appliedTwice = 0 and no wrong dead letter. */
export interface InboxOracleReport {
  commands: number;
  byMode: Record<string, number>;
  pushes: number;
  /** Pushes whose command arrived unverified (every command here carries endorsements). */
  unverifiedPushes: number;
  applied: number;
  appliedTwice: number;
  /** Second applications excused by a SIGKILL (see the file comment). */
  excused: number;
  deadLettered: number;
  lost: number;
  /** A drop/fail command without exactly one notice, or an ok/retry-once command with one. */
  wrongDeadLetters: number;
  /** A drop/fail command the agent applied. */
  wrongApplied: number;
  /** Notices naming a command the stream does not hold. */
  strayNotices: number;
  /** Up to 20 examples per finding, each naming the ID. */
  examples: { lost: string[]; appliedTwice: string[]; wrongDeadLetters: string[]; strayNotices: string[] };
}

const MAX_EXAMPLES = 20;

/** Pure: judges the agent's pushes and the notices against the stream's commands. */
export function judgeInbox(input: InboxOracleInput): InboxOracleReport {
  const excuseMs = input.excuseMs ?? 2_000;
  const examples: InboxOracleReport['examples'] = {
    lost: [],
    appliedTwice: [],
    wrongDeadLetters: [],
    strayNotices: [],
  };
  const note = (list: string[], s: string): void => {
    if (list.length < MAX_EXAMPLES) list.push(s);
  };
  const applications = new Map<string, AgentPush[]>();
  for (const p of input.pushes)
    if (p.applied) applications.set(p.correlationId, [...(applications.get(p.correlationId) ?? []), p]);
  const noticesOf = new Map<string, string[]>();
  for (const n of input.notices) noticesOf.set(n.correlationId, [...(noticesOf.get(n.correlationId) ?? []), n.reason]);
  const r: InboxOracleReport = {
    commands: input.commands.length,
    byMode: {},
    pushes: input.pushes.length,
    unverifiedPushes: input.pushes.filter((p) => !p.verified).length,
    applied: 0,
    appliedTwice: 0,
    excused: 0,
    deadLettered: 0,
    lost: 0,
    wrongDeadLetters: 0,
    wrongApplied: 0,
    strayNotices: 0,
    examples,
  };
  const inStream = new Set<string>();
  for (const c of input.commands) {
    inStream.add(c.correlationId);
    r.byMode[c.mode] = (r.byMode[c.mode] ?? 0) + 1;
    const apps = (applications.get(c.correlationId) ?? []).sort((a, b) => a.arrivedAtMs - b.arrivedAtMs);
    const notices = noticesOf.get(c.correlationId) ?? [];
    const what = `${c.correlationId} (${c.mode}, COMMANDS#${c.seq})`;
    if (apps.length > 0) r.applied++;
    if (notices.length > 0) r.deadLettered++;
    if (apps.length === 0 && notices.length === 0) {
      r.lost++;
      note(examples.lost, `${what}: never applied, never dead-lettered`);
    }
    for (let i = 1; i < apps.length; i++) {
      if (excusedByKill(apps[i - 1]!, apps[i]!, input.kills, excuseMs)) r.excused++;
      else {
        r.appliedTwice++;
        note(examples.appliedTwice, `${what}: applied again at ${iso(apps[i]!.atMs)} after ${iso(apps[i - 1]!.atMs)}`);
      }
    }
    const shouldApply = APPLIED_MODES.has(c.mode);
    if (!shouldApply && apps.length > 0) {
      r.wrongApplied++;
      note(examples.wrongDeadLetters, `${what}: applied ${apps.length} times`);
    }
    if (shouldApply ? notices.length > 0 : notices.length !== 1) {
      r.wrongDeadLetters++;
      note(examples.wrongDeadLetters, `${what}: ${notices.length} notices ${JSON.stringify(notices)}`);
    }
  }
  for (const [id, reasons] of noticesOf)
    if (!inStream.has(id)) {
      r.strayNotices++;
      note(examples.strayNotices, `${id}: ${JSON.stringify(reasons)}`);
    }
  return r;
}

/**
 * Whether a second application `next` is excused by a SIGKILL of the inbox sidecar: `prev` was
 * pushed by the sidecar that SIGKILL ended, was answered within `excuseMs` before it or after it
 * (no record could be made), and `next` was pushed by the restarted sidecar.
 *
 * "Pushed by the killed sidecar" is "arrived before the restart began", not "before the
 * SIGKILL": the agent runs in the test's own process and reads a push when that process gets to
 * it, so a push the sidecar wrote just before it died can arrive after the SIGKILL was sent.
 * Until the restart, no other process pushes.
 */
export function excusedByKill(
  prev: AgentPush,
  next: AgentPush,
  kills: readonly InboxSidecarKill[],
  excuseMs = 2_000,
): boolean {
  return kills.some(
    (k) => prev.arrivedAtMs < k.restartedAtMs && prev.atMs >= k.atMs - excuseMs && next.arrivedAtMs >= k.restartedAtMs,
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
