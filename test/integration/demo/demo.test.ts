// The README's first command runs `net-sync demo`; this runs it small, through the built CLI.
import { describe, expect, it } from 'vitest';
import { runCliProcess } from '../../support/sidecar-process.js';
import { tempDir } from '../../support/temp-dir.js';

describe('net-sync demo', () => {
  it('commits, buffers through a NATS outage, replays, and proves exactly once', async () => {
    const dir = tempDir('demo-test');
    const r = await runCliProcess(
      ['demo', '--intents', '60', '--outage-intents', '40', '--json'],
      { PATH: process.env['PATH'] ?? '', HOME: dir },
      dir,
    );
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.ok).toBe(true);
    expect(summary.stream).toEqual({ messages: 100, distinctIds: 100, duplicates: 0, lost: 0 });
    expect(summary.phases.map((p: { accepted: number }) => p.accepted)).toEqual([60, 40]);
    expect(summary.reconcile.every((x: { aligned: boolean }) => x.aligned)).toBe(true);
  });
});
