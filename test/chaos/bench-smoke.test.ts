/**
 * Smoke tests of `npm run bench`, `npm run bench:fleet` and `npm run bench:federation`: the
 * compiled benchmarks run small (`--quick`; a fleet of 3 at one short rate) and write JSON results
 * with every figure present.
 * Rates are not asserted against anything: they are numbers for people, not pass/fail criteria;
 * what the stream shows (nothing lost, nothing twice) is.
 *
 * They run with the chaos project (`npm run test:chaos`), not in `npm test`: together about
 * 45 s on 2 cores, and what they hold is that the benchmark programs still run; `npm test`
 * type-checks bench/, and the exactly-once guarantees they touch have their own integration
 * tests. Alone: `npx vitest run --project chaos test/chaos/bench-smoke.test.ts`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const out = mkdtempSync(join(tmpdir(), 'net-sync-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runBench(
  args: string[],
  timeoutMs: number,
  script = 'dist/bench/run.js',
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, script), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', fail);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('bench --quick', () => {
  it('writes a JSON result with every row at a positive rate', async () => {
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);
    const r = await runBench(['--quick', '--out', out], 150_000);
    expect(r.code, r.stderr.slice(-2_000)).toBe(0);
    const files = readdirSync(out).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(1);
    const json = JSON.parse(readFileSync(join(out, files[0]!), 'utf8')) as {
      machine: { cpus: number; node: string; natsServer: string };
      rows: Record<string, { medianRate: number; samples: Array<{ rate: number }> }>;
      ratios: Record<string, { value: number }>;
      latency: Record<string, number>;
      rss: { rssBytes: number; pending: number; count: number };
      leaf: {
        arrivalP50Ms: number;
        leafOutage: { firstAfterReturnMs: number; lastAfterReturnMs: number };
        ourOutage: { firstAfterReturnMs: number; lastAfterReturnMs: number; backlogAtReturn: number };
      };
    };
    expect(json.machine.cpus).toBeGreaterThan(0);
    expect(json.machine.natsServer).toMatch(/v2\./);
    for (const key of ['a', 'a2', 'b', 'b1', 'b2', 'c', 'c2', 'c3', 'd', 'f', 'w', 'l', 'la']) {
      const row = json.rows[key];
      expect(row, `row ${key}`).toBeDefined();
      expect(row!.medianRate, `row ${key}`).toBeGreaterThan(0);
      expect(row!.samples.length, `row ${key}`).toBeGreaterThan(0);
    }
    for (const name of [
      '(c)/(a)',
      '(c)/(a′)',
      '(d)/(a)',
      '(f)/(c)',
      '(c′)/(a)',
      '(b″)/(a)',
      '(c)/(b″)',
      '(w)/(a)',
      '(c′)/(l)',
      '(c″)/(l)',
      '(c)/(l)',
    ])
      expect(json.ratios[name]?.value, name).toBeGreaterThan(0);
    for (const k of ['acceptP50Ms', 'acceptP99Ms', 'commitP50Ms', 'commitP99Ms'])
      expect(json.latency[k], k).toBeGreaterThan(0);
    expect(json.leaf.arrivalP50Ms).toBeGreaterThan(0);
    for (const o of [json.leaf.leafOutage, json.leaf.ourOutage]) {
      expect(o.firstAfterReturnMs).toBeGreaterThan(0);
      expect(o.lastAfterReturnMs).toBeGreaterThanOrEqual(o.firstAfterReturnMs);
    }
    expect(json.leaf.ourOutage.backlogAtReturn).toBeGreaterThan(0);
    expect(json.rss.pending).toBe(json.rss.count);
    expect(json.rss.rssBytes).toBeGreaterThan(0);
    expect(r.stdout).toContain('(c)/(a)');
  });
});

describe('bench:fleet, 3 sidecars at one short rate', () => {
  it('writes the per-N constants, with every accepted intent in the stream exactly once', async () => {
    const dir = join(out, 'fleet');
    const env = {
      BENCH_FLEET_STEP_MS: '2500',
      BENCH_FLEET_IDLE_MS: '2000',
      BENCH_FLEET_WARMUP_MS: '1000',
      BENCH_FLEET_DRAIN_MS: '8000',
      BENCH_FLEET_RAW_SECONDS: '1',
    };
    const args = ['--sizes', '3', '--rates', '2', '--skip-raw-gossip', '--out', dir];
    const r = await runBench(args, 90_000, 'dist/bench/fleet.js', env);
    expect(r.code, r.stderr.slice(-2_000)).toBe(0);
    const files = readdirSync(dir).filter((f) => f.startsWith('fleet-cohort-') && f.endsWith('.json'));
    expect(files).toHaveLength(1);
    const json = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as {
      summaries: Array<Record<string, unknown> & { idleCpuMsPerSidecar: { mean: number }; rssMiB: { mean: number } }>;
      runs: Array<{ rawNats: { p50Ms: number }; steps: Array<Record<string, number>> }>;
    };
    const [summary] = json.summaries;
    const step = json.runs[0]!.steps[0]!;
    expect(summary!['size']).toBe(3);
    expect(step['accepted'], 'accepted intents').toBeGreaterThan(0);
    expect(step['committed'], 'every accepted intent committed').toBe(step['accepted']);
    expect(step['lost']).toBe(0);
    expect(step['duplicates']).toBe(0);
    expect(step['commitP99Ms']).toBeGreaterThan(0);
    expect(summary!['fleetCpuMsPerIntent'], 'fleet CPU slope').toBeGreaterThan(0);
    expect(summary!['gossipPerNodePerIntent'], 'gossip slope').toBeGreaterThan(0);
    expect(summary!.idleCpuMsPerSidecar.mean).toBeGreaterThan(0);
    expect(summary!.rssMiB.mean).toBeGreaterThan(0);
    expect(json.runs[0]!.rawNats.p50Ms).toBeGreaterThan(0);
    expect(r.stdout).toContain('fleet CPU ms/intent');
  });
});

describe('bench:federation --quick', () => {
  it('measures (h) and (i) with nothing lost, the leaf really cut and the ledger seeing it', async () => {
    const dir = join(out, 'federation');
    const r = await runBench(['--quick', '--out', dir], 280_000, 'dist/bench/federation-edge.js');
    expect(r.code, r.stderr.slice(-2_000)).toBe(0);
    const files = readdirSync(dir).filter((f) => f.startsWith('federation-edge-') && f.endsWith('.json'));
    expect(files).toHaveLength(1);
    type Loop = { sent: number; accepted: number; lost: number; p50Ms: number; p99Ms: number };
    type CatchUp = {
      count: number;
      catchUpMs: number;
      valid: boolean;
      leafzDuringCut: number[];
      unackedDuringCut?: number;
    };
    const json = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as {
      roundTrip: { ours: { loop: Loop }; oursLowRate: { loop: Loop }; raw: Array<{ loop: Loop }>; ratioP99: number };
      catchUp: { ours: CatchUp; raw: CatchUp[]; ratio: number };
    };
    const { roundTrip: h, catchUp: i } = json;
    for (const loop of [h.ours.loop, h.oursLowRate.loop, ...h.raw.map((x) => x.loop)]) {
      expect(loop.accepted).toBeGreaterThan(0);
      expect(loop.lost, 'every accepted event came back').toBe(0);
      expect(loop.p99Ms).toBeGreaterThan(0);
    }
    expect(h.raw).toHaveLength(2);
    expect(h.ratioP99).toBeGreaterThan(0);
    // The leaf stayed cut (hub /leafz at 0, nothing at acme before the heal) on every run.
    for (const c of [i.ours, ...i.raw]) {
      expect(c.valid, JSON.stringify(c)).toBe(true);
      expect(c.leafzDuringCut.length).toBeGreaterThan(0);
      expect(c.count).toBe(200);
      expect(c.catchUpMs).toBeGreaterThan(0);
    }
    expect(i.ours.unackedDuringCut, "ORG's ledger sees what NATS's lag does not").toBe(200);
    expect(i.ratio).toBeGreaterThan(0);
    expect(r.stdout).toContain('(i) catch-up');
  }, 300_000);
});
