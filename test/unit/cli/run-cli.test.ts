import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.js';
import { buildProgram, COMMANDS, handlerOptions, runCli, type CliIo } from '../../../src/cli/index.js';

const dir = mkdtempSync(join(tmpdir(), 'net-sync-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], env: Record<string, string> = {}, tty = false): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s), isTTY: tty },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    createLogger: () => silentLogger(),
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

describe('usage', () => {
  it('exits 2 on an unknown flag, a missing argument, an unknown command, a bad option value', async () => {
    for (const argv of [
      ['keygen', '--bogus'],
      ['config', 'print', '--config'],
      ['nope'],
      ['demo', '--intents', 'x'],
      ['status', '--url', 'ftp://x'],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(/error:/);
    }
  });

  it('exits 2 with no command', async () => {
    expect((await run([])).code).toBe(2);
  });

  it('prints --help of every command and exits 0', async () => {
    const names = COMMANDS.map((c) => c.name.split(' '));
    for (const words of [[], ['streams'], ['config'], ...names]) {
      const r = await run([...words, '--help']);
      expect(r.code, words.join(' ')).toBe(0);
      expect(r.stdout, words.join(' ')).toContain(`Usage: net-sync ${words.join(' ')}`.trimEnd());
      if (words.length > 0) expect(r.stdout).toContain('--config <file>'); // global options shown
    }
  });

  it('puts a JSON error on stdout for a usage error under --json', async () => {
    const r = await run(['keygen', '--bogus', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'USAGE' } });
  });
});

describe('config errors', () => {
  it('exit 2 and name the key and source on stderr', async () => {
    const r = await run(['config', 'print'], { NET_SYNC_API_LISTEN: 'nope' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('api.listen (from NET_SYNC_API_LISTEN): must be host:port');
    expect(r.stdout).toBe('');
  });

  it('under --json print {"error":{code,message,issues}} on stdout', async () => {
    const r = await run(['config', 'print', '--json', '--mesh-listen', 'tcp://x', '--set', 'nats.bogus=1']);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as {
      error: { code: string; message: string; issues: Array<{ key: string; message: string }> };
    };
    expect(doc.error.code).toBe('CONFIG_INVALID');
    expect(doc.error.issues).toEqual(
      expect.arrayContaining([
        { key: 'mesh.listen[0]', message: 'not a multiaddr', source: '--mesh-listen' },
        { key: 'nats.bogus', message: 'unknown key', source: '--set nats.bogus' },
      ]),
    );
    expect(doc.error.message).toContain('mesh.listen[0] (from --mesh-listen): not a multiaddr');
  });

  it('exit 2 for a missing --config file, naming it', async () => {
    const r = await run(['config', 'print', '--config', join(dir, 'missing.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing.yaml: config file not found');
  });
});

describe('config print', () => {
  it('prints the effective config as JSON with flags applied and secrets masked', async () => {
    const r = await run(
      [
        '--json',
        'config',
        'print',
        '--nats-servers',
        'nats://a:1,nats://b:2',
        '--consensus-quorum',
        'majority',
        '--telemetry-scout',
        '--set',
        'commit.window=8',
      ],
      { NET_SYNC_NATS_TOKEN: 'tok', NET_SYNC_BUFFER_PATH: 'env.db', NET_SYNC_CONSENSUS_COHORT: 'p1,p2,p3' },
    );
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout);
    expect(c.nats.servers).toEqual(['nats://a:1', 'nats://b:2']);
    expect(c.nats.token).toBe('****');
    expect(c.consensus.quorum).toBe('majority');
    expect(c.telemetry.scout).toBe(true);
    expect(c.commit.window).toBe(8);
    expect(c.buffer.path).toBe('env.db');
  });

  it('prints YAML for humans', async () => {
    const r = await run(['config', 'print', '--api-listen', '127.0.0.1:9']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('listen: 127.0.0.1:9');
  });

  it('does not let an optional-value flag swallow the command name', async () => {
    const r = await run(['--telemetry-scout', 'config', 'print', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).telemetry.scout).toBe(true);
    const off = await run(['config', 'print', '--telemetry-scout', 'false', '--json']);
    expect(JSON.parse(off.stdout).telemetry.scout).toBe(false);
  });
});

describe('keygen', () => {
  it('writes a 0600 identity, prints the peer ID, and refuses to overwrite without --force', async () => {
    const out = join(dir, 'keys', 'id.key');
    const first = await run(['keygen', '--out', out]);
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]+$/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const bytes = readFileSync(out);

    const again = await run(['keygen', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--force');
    expect(readFileSync(out)).toEqual(bytes);

    const forced = await run(['keygen', '--out', out, '--force', '--json']);
    expect(forced.code).toBe(0);
    const doc = JSON.parse(forced.stdout) as { peerId: string };
    expect(doc.peerId).toMatch(/^12D3KooW/);
    expect(doc.peerId).not.toBe(first.stdout.trim());
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('defaults --out to mesh.keyFile', async () => {
    const keyFile = join(dir, 'from-config.key');
    const r = await run(['keygen', '--json'], { NET_SYNC_MESH_KEY_FILE: keyFile });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ keyFile });
  });
});

describe('handlers', () => {
  it('receive their parsed, typed options', async () => {
    const seen: Record<string, Record<string, unknown>> = {};
    const io: CliIo = { stdout: { write: () => true }, stderr: { write: () => true }, env: {} };
    const cases: string[][] = [
      ['reconcile', '--dry-run', '--since', '2h'],
      ['demo', '--intents', '10', '--keep'],
      ['status', '--url', 'http://127.0.0.1:7654/'],
      ['streams', 'apply'],
    ];
    for (const argv of cases) {
      const program = buildProgram(io, async (spec, command) => {
        seen[spec.name] = handlerOptions(spec, command);
      });
      await program.parseAsync(argv, { from: 'user' });
    }
    expect(seen['reconcile']).toEqual({ dryRun: true, verify: false, sinceMs: 7_200_000 });
    expect(seen['demo']).toEqual({ intents: 10, outageIntents: 300, sidecars: 3, mesh: true, keep: true });
    expect(seen['status']).toEqual({ url: 'http://127.0.0.1:7654' });
    expect(seen['streams apply']).toEqual({ dryRun: false });
  });
});
