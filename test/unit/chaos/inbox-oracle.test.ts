// The chaos inbox oracle is itself judged: what counts as lost, applied twice, excused, and a wrong dead letter.
import { describe, expect, it } from 'vitest';
import { type AgentPush, judgeInbox } from '../../chaos/harness/inbox-oracle.js';

const push = (correlationId: string, arrivedAtMs: number, atMs: number, applied = true): AgentPush => ({
  correlationId,
  arrivedAtMs,
  atMs,
  applied,
  verified: true,
});

describe('judgeInbox', () => {
  it('counts a command neither applied nor dead-lettered as lost, and a clean run as clean', () => {
    const r = judgeInbox({
      commands: [
        { correlationId: 'a', mode: 'ok', seq: 1 },
        { correlationId: 'b', mode: 'drop', seq: 2 },
        { correlationId: 'c', mode: 'retry-once', seq: 3 },
      ],
      pushes: [push('a', 10, 11), push('b', 12, 13, false), push('c', 14, 15, false), push('c', 300, 301)],
      notices: [{ correlationId: 'b', reason: 'agent answered DROP' }],
      kills: [],
    });
    expect(r).toMatchObject({
      commands: 3,
      applied: 2,
      deadLettered: 1,
      lost: 0,
      appliedTwice: 0,
      wrongDeadLetters: 0,
    });
    const lost = judgeInbox({
      commands: [{ correlationId: 'a', mode: 'fail', seq: 1 }],
      pushes: [],
      notices: [],
      kills: [],
    });
    expect(lost.lost).toBe(1);
    expect(lost.examples.lost[0]).toMatch(/^a \(fail, COMMANDS#1\)/);
  });

  it('excuses a second application only around a SIGKILL of the inbox sidecar', () => {
    const commands = [{ correlationId: 'a', mode: 'ok', seq: 1 }];
    // SIGKILL at 10 s, restart begun at 10.5 s.
    const kill = { atMs: 10_000, restartedAtMs: 10_500 };
    const judge = (first: AgentPush, kills = [kill], second = push('a', 20_000, 20_001)) =>
      judgeInbox({ commands, pushes: [first, second], notices: [], kills });
    // Answered 1.5 s before the kill: excused.
    expect(judge(push('a', 8_400, 8_500))).toMatchObject({ appliedTwice: 0, excused: 1 });
    // Arrived before the kill, answered after it: excused.
    expect(judge(push('a', 9_900, 10_100))).toMatchObject({ appliedTwice: 0, excused: 1 });
    // Answered 2.5 s before the kill, or with no kill at all: applied twice.
    expect(judge(push('a', 7_400, 7_500))).toMatchObject({ appliedTwice: 1, excused: 0 });
    expect(judge(push('a', 9_900, 10_100), [])).toMatchObject({ appliedTwice: 1, excused: 0 });
    // A kill after the second copy arrived excuses nothing.
    expect(judge(push('a', 9_900, 10_100), [{ atMs: 25_000, restartedAtMs: 26_000 }])).toMatchObject({
      appliedTwice: 1,
    });
  });

  it('excuses a push the killed sidecar wrote that the agent read only after the SIGKILL was sent', () => {
    // The flake of inbox-push.test.ts: the agent runs in the test's process, which was busy when
    // the sidecar wrote its push and sent the SIGKILL before reading it; the agent read it 1 ms
    // after the SIGKILL and applied it, and the restarted sidecar, with no record, pushed it again.
    const commands = [{ correlationId: 'a', mode: 'ok', seq: 1 }];
    const kill = { atMs: 10_000, restartedAtMs: 10_500 };
    const judge = (first: AgentPush, second: AgentPush) =>
      judgeInbox({ commands, pushes: [first, second], notices: [], kills: [kill] });
    expect(judge(push('a', 10_001, 10_001), push('a', 13_628, 13_628))).toMatchObject({
      appliedTwice: 0,
      excused: 1,
    });
    // A first copy that arrived once the restart had begun came from the new sidecar: not excused.
    expect(judge(push('a', 10_600, 10_600), push('a', 13_628, 13_628))).toMatchObject({ appliedTwice: 1 });
    // Nor is a second copy before the restart: both came from the killed sidecar.
    expect(judge(push('a', 9_000, 9_000), push('a', 10_200, 10_200))).toMatchObject({ appliedTwice: 1 });
  });

  it('wants exactly one notice for drop and fail, none otherwise, and none for a command not in the stream', () => {
    const r = judgeInbox({
      commands: [
        { correlationId: 'd', mode: 'drop', seq: 1 },
        { correlationId: 'f', mode: 'fail', seq: 2 },
        { correlationId: 'o', mode: 'ok', seq: 3 },
      ],
      pushes: [push('o', 1, 2)],
      notices: [
        { correlationId: 'd', reason: 'agent answered DROP' },
        { correlationId: 'd', reason: 'agent answered DROP' },
        { correlationId: 'o', reason: 'max-deliver' },
        { correlationId: 'x', reason: 'unverified' },
      ],
      kills: [],
    });
    // d: two notices; f: none (also lost); o: applied and noticed.
    expect(r).toMatchObject({ wrongDeadLetters: 3, lost: 1, strayNotices: 1, wrongApplied: 0 });
  });
});
