// Runs the built CLI (`node dist/src/cli/main.js`) as a user would: exit codes, stderr, --json.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const main = join(root, 'dist/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'net-sync-cli-it-'));

// The integration project's global setup (test/support/global-build.ts) builds dist/ once.
beforeAll(() => {
  if (!existsSync(main)) throw new Error(`build did not emit ${main}`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a temp dir with a clean env (no NET_SYNC_* from the test runner). */
function cli(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [main, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', HOME: dir, ...env },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `cli`, without blocking the event loop, so that several can run at once. */
function cliAsync(args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [main, ...args],
      { cwd: dir, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: dir }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        done({ code, stdout, stderr });
      },
    );
  });
}

describe('net-sync CLI (built)', () => {
  it('exits 2 on an unknown flag', () => {
    const r = cli(['start', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--no-such-flag'");
  });

  it('exits 2 on a missing option argument', () => {
    expect(cli(['keygen', '--out']).code).toBe(2);
  });

  it('exits 2 on bad config from a file, env and flags, naming each key', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'mesh:\n  listen: [not-an-addr]\nnats:\n  servers: [nats://ok:4222, http://bad:1]\n');
    const r = cli(['config', 'print', '--config', file, '--api-listen', 'nope'], {
      NET_SYNC_COMMIT_BACKOFF_MAX_MS: 'later',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('mesh.listen[0]: not a multiaddr');
    expect(r.stderr).toContain('nats.servers[1]: must be a NATS URL');
    expect(r.stderr).toContain('api.listen (from --api-listen): must be host:port');
    expect(r.stderr).toContain('commit.backoffMaxMs (from NET_SYNC_COMMIT_BACKOFF_MAX_MS): not a duration');
  });

  it('exits 2 on an unknown NET_SYNC_* variable, with a JSON error under --json', () => {
    const r = cli(['config', 'print', '--json'], { NET_SYNC_API_LISTN: '127.0.0.1:1' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('NET_SYNC_API_LISTN');
    const doc = JSON.parse(r.stdout);
    expect(doc.error.code).toBe('CONFIG_INVALID');
    expect(doc.error.issues[0].key).toBe('NET_SYNC_API_LISTN');
  });

  it('prints --help for every command with exit 0', async () => {
    const commands = [
      [],
      ['start'],
      ['reconcile'],
      ['status'],
      ['streams'],
      ['streams', 'apply'],
      ['streams', 'verify'],
      ['keygen'],
      ['demo'],
      ['verify'],
      ['config', 'print'],
    ];
    // Each run is a fresh node process that only prints: up to 4 run side by side.
    const runs: Run[] = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < commands.length; i = next++) runs[i] = await cliAsync([...commands[i]!, '--help']);
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
    const help = new Map<string, string>();
    commands.forEach((words, i) => {
      const r = runs[i]!;
      expect(r.code, words.join(' ')).toBe(0);
      expect(r.stdout, words.join(' ')).toMatch(/^Usage: net-sync/);
      help.set(words.join(' '), r.stdout);
    });
    expect(help.get('reconcile')).toMatch(/--dry-run[\s\S]*--verify[\s\S]*--since <duration>/);
    expect(help.get('demo')).toMatch(/--intents <n>[\s\S]*--outage-intents <n>[\s\S]*--keep/);
    expect(help.get('status')).toContain('--url <http://host:port>');
  });

  it('keygen writes a 0600 key, prints the peer ID, refuses to overwrite, and speaks JSON', () => {
    const out = join(dir, 'node.key');
    const r = cli(['keygen', '--out', out]);
    expect(r.code).toBe(0);
    const peerId = r.stdout.trim();
    expect(peerId).toMatch(/^12D3KooW\w+$/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const before = readFileSync(out);

    const again = cli(['keygen', '--out', out]);
    expect(again.code).toBe(1);
    expect(readFileSync(out)).toEqual(before);

    const json = cli(['keygen', '--out', join(dir, 'other.key'), '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).peerId).toMatch(/^12D3KooW/);
  });

  it('config print --json parses and reflects env and flags', () => {
    const r = cli(['config', 'print', '--json', '--consensus-quorum', '2'], {
      NET_SYNC_NATS_SERVERS: 'nats://a:4222,nats://b:4222',
      NET_SYNC_NATS_PASS: 'hunter2',
      NET_SYNC_TELEMETRY_SCOUT: 'true',
      NET_SYNC_CONSENSUS_COHORT: 'p1,p2,p3',
    });
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout);
    expect(c.nats.servers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(c.nats.pass).toBe('****');
    expect(c.consensus.quorum).toBe(2);
    expect(c.telemetry.scout).toBe(true);
    expect(r.stdout).not.toContain('hunter2');
  });
});
