// Hostile config (issue 16): every key the schema has (walked from CONFIG_KEYS, nothing
// hand-listed) is given a value of the wrong type through a file, the environment and `--set`,
// and each time the error names the key (and, for env and flags, where the value came from).
// A few of the same go through the real CLI, with the exit code 2; `config print` masks a
// password inside a server URL, and ws:// servers are refused naming `nats.servers[0]`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config-error.js';
import { CONFIG_KEYS, type ConfigKey } from '../../../src/config/config-keys.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { runCliProcess } from '../../support/sidecar-process.js';
import { tempDir } from '../../support/temp-dir.js';

/** A value of the wrong JSON type for the key, as a file would hold it. */
function wrongFileValue(k: ConfigKey): unknown {
  if (k.shape.kind === 'scalar') {
    const onlyBoolean = k.shape.accepts.size === 1 && k.shape.accepts.has('boolean');
    return onlyBoolean ? 'maybe' : k.shape.accepts.has('boolean') ? 42 : true;
  }
  return 42; // a list or an object given a number
}

/** A string that is no value of the key's type, for env and flags; undefined when any string is one. */
function wrongStringValue(k: ConfigKey): string {
  if (k.shape.kind === 'json') return '{"unterminated": ';
  const accepts = k.shape.kind === 'scalar' ? k.shape.accepts : k.shape.element;
  if (accepts.has('boolean') && accepts.size === 1) return 'maybe';
  return k.shape.kind === 'list' ? 'not-a-value,' : 'not-a-value';
}

function nest(path: readonly string[], value: unknown): Record<string, unknown> {
  return path.reduceRight<Record<string, unknown>>((inner, seg) => ({ [seg]: inner }), value as never);
}

/** The issues of loading, or null when the config loaded. */
function issuesOf(load: () => unknown): ConfigError['issues'] | null {
  try {
    load();
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
}

const namesKey = (issueKey: string, key: string): boolean =>
  issueKey === key || issueKey.startsWith(`${key}[`) || issueKey.startsWith(`${key}.`);

describe('hostile config: every key with a wrong type', () => {
  const dir = tempDir('hostile-config');

  it('file: every key given a value of the wrong type is refused naming the key', () => {
    for (const k of CONFIG_KEYS) {
      const file = join(dir, `${k.key}.json`);
      writeFileSync(file, JSON.stringify(nest(k.path, wrongFileValue(k))));
      const issues = issuesOf(() => loadConfig({ file, env: {} }));
      expect(issues, `${k.key} = ${JSON.stringify(wrongFileValue(k))} was accepted`).not.toBeNull();
      expect(
        issues?.some((i) => namesKey(i.key, k.key)),
        `${k.key}: ${JSON.stringify(issues)}`,
      ).toBe(true);
    }
  });

  it('env and --set: every key given a string of no value of its type is refused naming key and source', () => {
    let freeForm = 0;
    for (const k of CONFIG_KEYS) {
      const value = wrongStringValue(k);
      const cases = [
        { source: k.env, load: () => loadConfig({ env: { [k.env]: value } }) },
        { source: `--set ${k.key}`, load: () => loadConfig({ env: {}, overrides: { [k.key]: value } }) },
      ];
      for (const c of cases) {
        const issues = issuesOf(c.load);
        if (issues === null) {
          // A free-form string (a name, a path, a token): any string is of its type, and it is
          // taken as written, never coerced to something else.
          const config = c.load() as unknown as Record<string, Record<string, unknown>>;
          const got = k.path.reduce<unknown>((node, seg) => (node as Record<string, unknown>)[seg], config);
          expect(got, `${k.key} from ${c.source}`).toEqual(k.shape.kind === 'list' ? ['not-a-value'] : value);
          freeForm++;
          continue;
        }
        const issue = issues.find((i) => namesKey(i.key, k.key));
        expect(issue, `${k.key} from ${c.source}: ${JSON.stringify(issues)}`).toBeDefined();
        expect(issue?.source, `${k.key}: ${JSON.stringify(issue)}`).toBe(c.source);
      }
    }
    console.log(`hostile config: ${CONFIG_KEYS.length} keys × file, env, --set; ${freeForm / 2} take any string`);
  });
});

describe('hostile config: the real CLI', () => {
  const dir = tempDir('hostile-cli');
  const env = { PATH: process.env['PATH'] ?? '', HOME: dir };
  const cli = (args: string[], extra: Record<string, string> = {}) =>
    runCliProcess(['config', 'print', '--json', ...args], { ...env, ...extra }, dir, 30_000);

  it('exits 2 naming each key for wrong types through a file, env and flags, all in one report', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'api:\n  maxConnections: many\n');
    const r = await cli(['--config', file, '--set', 'api.headersTimeoutMs=soon', '--consensus-quorum', 'lots'], {
      NET_SYNC_MESH_ENABLED: 'maybe',
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/api\.maxConnections: /);
    expect(r.stderr).toMatch(/mesh\.enabled \(from NET_SYNC_MESH_ENABLED\): must be a boolean/);
    expect(r.stderr).toMatch(/api\.headersTimeoutMs \(from --set api\.headersTimeoutMs\): not a duration/);
    expect(r.stderr).toMatch(/consensus\.quorum \(from --consensus-quorum\): /);
  });

  it('refuses ws:// servers naming nats.servers[0], and masks a password inside a server URL', async () => {
    const [ws, withPassword] = await Promise.all([
      cli([], { NET_SYNC_NATS_SERVERS: 'ws://127.0.0.1:8080' }),
      cli([], { NET_SYNC_NATS_SERVERS: 'nats://bob:hunter2@127.0.0.1:4222,nats://s3cret-token@10.0.0.2:4222' }),
    ]);
    expect(ws.code, ws.stderr).toBe(2);
    expect(ws.stderr).toMatch(
      /nats\.servers\[0\] \(from NET_SYNC_NATS_SERVERS\): ws:\/\/ and wss:\/\/ are not supported/,
    );
    expect(withPassword.code, withPassword.stderr).toBe(0);
    expect(withPassword.stdout).not.toMatch(/hunter2|s3cret-token/);
    expect(JSON.parse(withPassword.stdout).nats.servers).toEqual([
      'nats://bob:****@127.0.0.1:4222',
      'nats://****@10.0.0.2:4222',
    ]);
  });
});
