/**
 * Smoke test of `npm run bench`: the compiled benchmark runs with `--quick` and writes a JSON
 * result with every row at a positive rate. Rates are not asserted against anything: they
 * are numbers for people, not pass/fail criteria.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const out = mkdtempSync(join(tmpdir(), 'net-sync-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'dist/bench/run.js'), ...args], {
      cwd: root,
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
    const r = await runBench(['--quick', '--out', out], 110_000);
    expect(r.code, r.stderr.slice(-2_000)).toBe(0);
    const files = readdirSync(out).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(1);
    const json = JSON.parse(readFileSync(join(out, files[0]!), 'utf8')) as {
      machine: { cpus: number; node: string; natsServer: string };
      rows: Record<string, { medianRate: number; samples: Array<{ rate: number }> }>;
      ratios: Record<string, { value: number }>;
      latency: Record<string, number>;
      rss: { rssBytes: number; pending: number; count: number };
    };
    expect(json.machine.cpus).toBeGreaterThan(0);
    expect(json.machine.natsServer).toMatch(/v2\./);
    for (const key of ['a', 'a2', 'b', 'b1', 'b2', 'c', 'c2', 'd', 'w']) {
      const row = json.rows[key];
      expect(row, `row ${key}`).toBeDefined();
      expect(row!.medianRate, `row ${key}`).toBeGreaterThan(0);
      expect(row!.samples.length, `row ${key}`).toBeGreaterThan(0);
    }
    for (const name of ['(c)/(a)', '(c)/(a′)', '(d)/(a)', '(c′)/(a)', '(b″)/(a)', '(c)/(b″)', '(w)/(a)'])
      expect(json.ratios[name]?.value, name).toBeGreaterThan(0);
    for (const k of ['acceptP50Ms', 'acceptP99Ms', 'commitP50Ms', 'commitP99Ms'])
      expect(json.latency[k], k).toBeGreaterThan(0);
    expect(json.rss.pending).toBe(json.rss.count);
    expect(json.rss.rssBytes).toBeGreaterThan(0);
    expect(r.stdout).toContain('(c)/(a)');
  });
});
