// The README's first command runs `net-sync demo`; this runs it small, through the built CLI.
import { describe, expect, it } from 'vitest';
import { runCliProcess } from '../../support/sidecar-process.js';
import { tempDir } from '../../support/temp-dir.js';

describe('net-sync demo', () => {
  it('commits, buffers through a NATS outage, replays, loops an intent to an agent, proves exactly once', async () => {
    const dir = tempDir('demo-test');
    const r = await runCliProcess(
      ['demo', '--intents', '60', '--outage-intents', '40', '--json'],
      { PATH: process.env['PATH'] ?? '', HOME: dir },
      dir,
    );
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.ok).toBe(true);
    // 60 + 40 intents, and the loop's one.
    expect(summary.stream).toEqual({ messages: 101, distinctIds: 101, duplicates: 0, lost: 0 });
    expect(summary.phases.map((p: { accepted: number }) => p.accepted)).toEqual([60, 40, 1]);
    expect(summary.reconcile.every((x: { aligned: boolean }) => x.aligned)).toBe(true);

    // The loop: proposed on sidecar-1, stored once, pushed once by sidecar-3's inbox, verified, SUCCESS.
    expect(summary.inbox).toMatchObject({
      proposedOn: 'sidecar-1',
      deliveredBy: 'sidecar-3',
      deliveries: 1,
      copiesInStream: 1,
      verified: true,
      answer: 'SUCCESS',
    });
    const story: string[] = summary.story;
    expect(story.filter((l) => l.startsWith('phase 4: '))).toEqual([
      expect.stringContaining(`intent ${summary.inbox.correlationId} proposed on sidecar-1`),
    ]);

    // Issue 18 item 7: no log line reaches the terminal, and the outage figures add up.
    expect(r.stderr).not.toMatch(/"level":/);
    const outage = story.find((l) => l.includes('during the outage'));
    expect(outage).toMatch(/^40 intents accepted during the outage, all buffered in SQLite: \d+ rows/);
    const rows = Number(/: (\d+) rows/.exec(outage!)![1]);
    expect(rows, outage).toBeGreaterThanOrEqual(40);
    if (rows > 40) expect(outage).toMatch(/each endorser in turn takes over/);
  });
});
