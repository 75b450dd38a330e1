import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  ConfigSchema,
  formatConfigIssue,
  loadConfig,
  type ConfigIssue,
} from '../../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'net-sync-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(name: string, text: string): string {
  const path = join(dir, `${n++}-${name}`);
  writeFileSync(path, text);
  return path;
}

/** Runs loadConfig expecting a ConfigError; returns its issues and message. */
function issuesOf(options: Parameters<typeof loadConfig>[0]): { issues: readonly ConfigIssue[]; message: string } {
  try {
    loadConfig(options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe('CONFIG_INVALID');
    for (const issue of e.issues) expect(e.message).toContain(formatConfigIssue(issue));
    return { issues: e.issues, message: e.message };
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  it('with no file, env or flags gives the schema defaults of the design', () => {
    const c = loadConfig({ env: {} });
    expect(c).toEqual(ConfigSchema.parse({}));
    expect(c.nats.servers).toEqual(['nats://127.0.0.1:4222']);
    expect(c.buffer.path).toBe('./net-sync.db');
    expect(c.consensus.quorum).toBe(1);
    expect(c.api.listen).toBe('127.0.0.1:7654');
    expect(c.streams.map((s) => s.name)).toEqual([
      'COMMANDS',
      'TELEMETRY',
      'FEDERATION',
      'OBSERVABILITY',
      'DEADLETTER',
    ]);
  });

  it('ignores variables outside NET_SYNC_*', () => {
    expect(loadConfig({ env: { PATH: '/bin', NETSYNC_X: '1', HOME: '/root' } })).toEqual(ConfigSchema.parse({}));
  });
});

describe('loadConfig file', () => {
  it('reads YAML, with human durations and sizes', () => {
    const path = file(
      'c.yaml',
      [
        'nats:',
        '  servers: [nats://a:4222, nats://b:4222]',
        '  tls: { caFile: /etc/ca.pem }',
        'api: { listen: 0.0.0.0:9000, maxPayloadBytes: 1MiB }',
        'commit: { backoffMaxMs: 2m }',
        'consensus: { quorum: majority, cohort: [p1, p2, p3] }',
        'subjects: { prefix: acme.prod }',
      ].join('\n'),
    );
    const c = loadConfig({ file: path, env: {} });
    expect(c.nats.servers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(c.nats.tls.caFile).toBe('/etc/ca.pem');
    expect(c.api).toMatchObject({ listen: '0.0.0.0:9000', maxPayloadBytes: 1_048_576 });
    expect(c.commit.backoffMaxMs).toBe(120_000);
    expect(c.consensus.quorum).toBe('majority');
    expect(c.streams[0]?.subjects).toEqual(['acme.prod.command.>']);
  });

  it('reads JSON by extension, and by content under another name', () => {
    const json = JSON.stringify({ buffer: { path: '/var/lib/ns.db' }, telemetry: { scout: true } });
    for (const path of [file('c.json', json), file('c.conf', json)]) {
      const c = loadConfig({ file: path, env: {} });
      expect(c.buffer.path).toBe('/var/lib/ns.db');
      expect(c.telemetry.scout).toBe(true);
    }
    expect(loadConfig({ file: file('c.conf', 'buffer:\n  path: y.db\n'), env: {} }).buffer.path).toBe('y.db');
  });

  it('treats an empty file as no settings', () => {
    expect(loadConfig({ file: file('empty.yaml', ''), env: {} })).toEqual(ConfigSchema.parse({}));
  });

  it('reads streams from the file', () => {
    const path = file('s.yaml', 'streams:\n  - { name: ORDERS, subjects: [orders.>], maxAge: 7d, maxBytes: 1GB }\n');
    const c = loadConfig({ file: path, env: {} });
    expect(c.streams).toHaveLength(1);
    expect(c.streams[0]).toMatchObject({ name: 'ORDERS', maxAge: 604_800_000, maxBytes: 1 << 30, replicas: 1 });
  });
});

describe('loadConfig env', () => {
  it('maps NET_SYNC_<SECTION>_<KEY>, nested keys, lists, booleans, numbers and quorum', () => {
    const c = loadConfig({
      env: {
        NET_SYNC_NATS_SERVERS: 'nats://a:4222, nats://b:4222',
        NET_SYNC_NATS_TLS_CA_FILE: '/ca.pem',
        NET_SYNC_API_LISTEN: '127.0.0.1:8000',
        NET_SYNC_BUFFER_PATH: '/data/ns.db',
        NET_SYNC_MESH_ENABLED: '1',
        NET_SYNC_MESH_MDNS: 'false',
        NET_SYNC_MESH_PEERS: '/ip4/10.0.0.2/tcp/4001/p2p/12D3KooWabc,/dns4/b.local/tcp/4001/p2p/12D3KooWdef',
        NET_SYNC_MESH_KEY_FILE: '/keys/id.key',
        NET_SYNC_CONSENSUS_QUORUM: 'majority',
        NET_SYNC_CONSENSUS_COHORT: '12D3KooWabc,12D3KooWdef,12D3KooWghi',
        NET_SYNC_TELEMETRY_SCOUT: 'true',
        NET_SYNC_COMMIT_WINDOW: '64',
        NET_SYNC_NATS_RECONNECT_WAIT_MS: '500',
        NET_SYNC_CONSENSUS_TTL_MS: '2m',
      },
    });
    expect(c.nats.servers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(c.nats.tls.caFile).toBe('/ca.pem');
    expect(c.api.listen).toBe('127.0.0.1:8000');
    expect(c.buffer.path).toBe('/data/ns.db');
    expect(c.mesh).toMatchObject({ enabled: true, mdns: false, keyFile: '/keys/id.key' });
    expect(c.mesh.peers).toHaveLength(2);
    expect(c.consensus.quorum).toBe('majority');
    expect(c.telemetry.scout).toBe(true);
    expect(c.commit.window).toBe(64);
    expect(c.nats.reconnectWaitMs).toBe(500);
    expect(c.consensus.ttlMs).toBe(120_000);
  });

  it('refuses consensus without a cohort unless open membership is asked for by name', () => {
    let err: unknown;
    try {
      loadConfig({ env: { NET_SYNC_CONSENSUS_QUORUM: '2' } });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', field: 'consensus.cohort' });
    expect(String((err as Error).message)).toMatch(/consensus\.openMembership/);
    expect(() => loadConfig({ env: { NET_SYNC_MESH_ENABLED: 'true' } })).toThrow(/consensus\.cohort/);
    expect(
      loadConfig({ env: { NET_SYNC_MESH_ENABLED: 'true', NET_SYNC_CONSENSUS_OPEN_MEMBERSHIP: 'true' } }).consensus,
    ).toMatchObject({ openMembership: true });
  });

  it('coerces a numeric quorum and 0/1 booleans', () => {
    const c = loadConfig({
      env: {
        NET_SYNC_CONSENSUS_QUORUM: '2',
        NET_SYNC_TELEMETRY_SCOUT: '0',
        NET_SYNC_MESH_ENABLED: 'TRUE',
        NET_SYNC_CONSENSUS_OPEN_MEMBERSHIP: '1',
      },
    });
    expect(c.consensus.quorum).toBe(2);
    expect(c.telemetry.scout).toBe(false);
    expect(c.mesh.enabled).toBe(true);
  });

  it('takes streams as JSON in NET_SYNC_STREAMS', () => {
    const streams = [{ name: 'X', subjects: ['x.>'], maxAge: '1d', maxBytes: 1024 }];
    const c = loadConfig({ env: { NET_SYNC_STREAMS: JSON.stringify(streams) } });
    expect(c.streams).toEqual([expect.objectContaining({ name: 'X', maxAge: 86_400_000, maxBytes: 1024 })]);
  });

  it('lets an empty variable clear a list and treats an empty scalar as unset', () => {
    const path = file('l.yaml', 'mesh:\n  announce: [/ip4/1.2.3.4/tcp/1]\n');
    const c = loadConfig({ file: path, env: { NET_SYNC_MESH_ANNOUNCE: '', NET_SYNC_API_LISTEN: '' } });
    expect(c.mesh.announce).toEqual([]);
    expect(c.api.listen).toBe('127.0.0.1:7654');
  });
});

describe('loadConfig precedence', () => {
  const path = (): string =>
    file(
      'p.yaml',
      'api: { listen: 127.0.0.1:1000 }\nbuffer: { path: file.db }\n' +
        'nats: { name: from-file, tls: { caFile: /file-ca } }\n',
    );

  it('file < env < flags, merging nested sections key by key', () => {
    const c = loadConfig({
      file: path(),
      env: {
        NET_SYNC_API_LISTEN: '127.0.0.1:2000',
        NET_SYNC_BUFFER_PATH: 'env.db',
        NET_SYNC_NATS_TLS_KEY_FILE: '/env-key',
      },
      overrides: { 'api.listen': '127.0.0.1:3000' },
    });
    expect(c.api.listen).toBe('127.0.0.1:3000'); // flag beats env and file
    expect(c.buffer.path).toBe('env.db'); // env beats file
    expect(c.nats.name).toBe('from-file'); // file beats default
    expect(c.nats.tls).toEqual({ caFile: '/file-ca', keyFile: '/env-key' });
    expect(c.nats.servers).toEqual(['nats://127.0.0.1:4222']); // default
  });

  it('coerces string overrides by the schema and passes typed ones as they are', () => {
    const c = loadConfig({
      env: {},
      overrides: {
        'consensus.quorum': '3',
        'consensus.openMembership': 'true',
        'telemetry.scout': true,
        'mesh.listen': '/ip4/0.0.0.0/tcp/4001,/ip6/::/tcp/4001',
        'commit.window': 7,
      },
    });
    expect(c.consensus.quorum).toBe(3);
    expect(c.telemetry.scout).toBe(true);
    expect(c.mesh.listen).toEqual(['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001']);
    expect(c.commit.window).toBe(7);
  });
});

describe('loadConfig errors name the key', () => {
  it('unknown keys in the file, nested and top-level', () => {
    const { issues, message } = issuesOf({ file: file('u.yaml', 'nats:\n  serverz: [nats://a:1]\nfoo: 1\n'), env: {} });
    expect(issues).toEqual(
      expect.arrayContaining([
        { key: 'nats.serverz', message: 'unknown key' },
        { key: 'foo', message: 'unknown key' },
      ]),
    );
    expect(message).toContain('nats.serverz: unknown key');
  });

  it('buffer.retainSettledMs: 0, or at least the longest intent TTL plus an hour, from env or file', () => {
    expect(loadConfig({ env: {} }).buffer.retainSettledMs).toBe(2 * 86_400_000);
    expect(loadConfig({ env: { NET_SYNC_BUFFER_RETAIN_SETTLED_MS: '72h' } }).buffer.retainSettledMs).toBe(
      3 * 86_400_000,
    );
    expect(loadConfig({ env: { NET_SYNC_BUFFER_RETAIN_SETTLED_MS: '0' } }).buffer.retainSettledMs).toBe(0);
    expect(loadConfig({ env: { NET_SYNC_BUFFER_RETAIN_SETTLED_MS: '25h' } }).buffer.retainSettledMs).toBe(
      25 * 3_600_000,
    );
    expect(issuesOf({ env: { NET_SYNC_BUFFER_RETAIN_SETTLED_MS: '1h' } }).message).toContain(
      'buffer.retainSettledMs (from NET_SYNC_BUFFER_RETAIN_SETTLED_MS): must be 0 (keep forever) or at least 25 h ' +
        '(the longest intent TTL, 24 h, plus 1 h of clock skew)',
    );
    expect(issuesOf({ file: file('r.yaml', 'buffer:\n  retainSettledMs: 24h\n'), env: {} }).message).toContain(
      'buffer.retainSettledMs: must be 0',
    );
  });

  it('a bad multiaddr, with its index', () => {
    const { message } = issuesOf({
      file: file('m.yaml', 'mesh:\n  listen: [/ip4/0.0.0.0/tcp/1, "tcp://x:1"]\n'),
      env: {},
    });
    expect(message).toContain('mesh.listen[1]: not a multiaddr');
  });

  it('a peer without /p2p/<id>', () => {
    const { message } = issuesOf({ env: { NET_SYNC_MESH_PEERS: '/ip4/10.0.0.1/tcp/4001' } });
    expect(message).toContain('mesh.peers[0] (from NET_SYNC_MESH_PEERS): must end in /p2p/<peerId>');
  });

  it('a bad NATS URL, naming the env variable', () => {
    const { issues, message } = issuesOf({ env: { NET_SYNC_NATS_SERVERS: 'nats://a:4222,http://b:4222' } });
    expect(issues).toEqual([expect.objectContaining({ key: 'nats.servers[1]', source: 'NET_SYNC_NATS_SERVERS' })]);
    expect(message).toContain('nats.servers[1] (from NET_SYNC_NATS_SERVERS): must be a NATS URL');
  });

  it('a bad host:port from env and from a flag', () => {
    expect(issuesOf({ env: { NET_SYNC_API_LISTEN: 'localhost' } }).message).toContain(
      'api.listen (from NET_SYNC_API_LISTEN): must be host:port',
    );
    const fromFlag = issuesOf({
      env: {},
      overrides: { 'api.listen': 'x y' },
      overrideSources: { 'api.listen': '--api-listen' },
    });
    expect(fromFlag.message).toContain('api.listen (from --api-listen): must be host:port');
  });

  it('a bad duration from the file and from --set', () => {
    expect(issuesOf({ file: file('d.yaml', 'commit:\n  backoffMaxMs: soon\n'), env: {} }).message).toContain(
      'commit.backoffMaxMs: not a duration: "soon"',
    );
    expect(issuesOf({ env: {}, overrides: { 'consensus.ttlMs': '5 parsecs' } }).message).toContain(
      'consensus.ttlMs (from --set consensus.ttlMs): not a duration',
    );
  });

  it('an unknown NET_SYNC_* variable, with a suggestion', () => {
    const { issues } = issuesOf({ env: { NET_SYNC_NATS_SERVER: 'nats://a:1' } });
    expect(issues[0]?.key).toBe('NET_SYNC_NATS_SERVER');
    expect(issues[0]?.message).toMatch(/unknown environment variable.*did you mean NET_SYNC_NATS_SERVERS\?/);
  });

  it('mesh.mdns: true, refused rather than ignored', () => {
    const { issues } = issuesOf({ env: { NET_SYNC_MESH_MDNS: 'true' } });
    expect(issues).toEqual([
      expect.objectContaining({ key: 'mesh.mdns', message: expect.stringMatching(/not supported/) }),
    ]);
  });

  it('an unknown flag key', () => {
    expect(issuesOf({ env: {}, overrides: { 'nats.bogus': 'x' } }).issues).toEqual([
      { key: 'nats.bogus', source: '--set nats.bogus', message: 'unknown key' },
    ]);
  });

  it('bad booleans, numbers, quorum and enums', () => {
    const { message } = issuesOf({
      env: {
        NET_SYNC_MESH_ENABLED: 'yes',
        NET_SYNC_COMMIT_WINDOW: 'many',
        NET_SYNC_CONSENSUS_QUORUM: 'most',
        NET_SYNC_LOG_LEVEL: 'loud',
      },
    });
    expect(message).toContain(
      'mesh.enabled (from NET_SYNC_MESH_ENABLED): must be a boolean (true, false, 1 or 0), got "yes"',
    );
    expect(message).toContain('commit.window (from NET_SYNC_COMMIT_WINDOW): must be a number, got "many"');
    expect(message).toContain('consensus.quorum (from NET_SYNC_CONSENSUS_QUORUM): must be a number or "majority"');
    expect(message).toContain('log.level (from NET_SYNC_LOG_LEVEL): Invalid option');
    expect(issuesOf({ env: { NET_SYNC_CONSENSUS_QUORUM: '0' } }).message).toContain(
      'consensus.quorum (from NET_SYNC_CONSENSUS_QUORUM): Too small',
    );
  });

  it('bad JSON in NET_SYNC_STREAMS and a missing stream field', () => {
    expect(issuesOf({ env: { NET_SYNC_STREAMS: '[{' } }).message).toContain(
      'streams (from NET_SYNC_STREAMS): must be JSON',
    );
    const { message } = issuesOf({
      file: file('s.yaml', 'streams:\n  - { name: A, subjects: [a.>], maxBytes: 1 }\n'),
      env: {},
    });
    expect(message).toContain('streams[0].maxAge: required');
  });

  it('names the key of a bad stream source', () => {
    const { message } = issuesOf({
      file: file(
        'src.yaml',
        [
          'streams:',
          '  - name: F',
          '    maxAge: 1d',
          '    maxBytes: 1MiB',
          '    sources:',
          '      - { name: A, domain: acme, external: { api: "$JS.acme.API" } }',
          '      - { name: B, filterSubject: "a..b" }',
          '      - { name: C, external: { api: "x.*" } }',
          '      - { name: D, nope: 1 }',
          '  - { name: G, subjects: [], maxAge: 1d, maxBytes: 1MiB }',
          '',
        ].join('\n'),
      ),
      env: {},
    });
    expect(message).toContain('streams[0].sources[0].domain: set external or domain, not both');
    expect(message).toContain('streams[0].sources[1].filterSubject: must be a NATS subject');
    expect(message).toContain('streams[0].sources[2].external.api: must be a subject prefix');
    expect(message).toContain('streams[0].sources[3]');
    expect(message).toContain('streams[1].subjects: must list at least one subject (or declare sources)');
  });

  it('reports every issue at once', () => {
    const { issues } = issuesOf({
      file: file('many.yaml', 'mesh: { listen: [nope] }\nextra: true\n'),
      env: { NET_SYNC_API_LISTEN: 'bad', NET_SYNC_NOPE: '1' },
      overrides: { 'nats.servers': 'http://x' },
    });
    expect(issues.map((i) => i.key).sort()).toEqual([
      'NET_SYNC_NOPE',
      'api.listen',
      'extra',
      'mesh.listen[0]',
      'nats.servers[0]',
    ]);
  });

  it('a missing file, naming it', () => {
    const missing = join(dir, 'nope.yaml');
    const { issues, message } = issuesOf({ file: missing, env: {} });
    expect(issues).toEqual([{ key: missing, message: 'config file not found' }]);
    expect(message).toContain(missing);
  });

  it('an unparsable file, naming it', () => {
    const yaml = file('bad.yaml', 'nats:\n  servers: [nats://a:1\n');
    expect(issuesOf({ file: yaml, env: {} }).message).toMatch(new RegExp(`${yaml}: not valid YAML`));
    const json = file('bad.json', '{"nats": ');
    expect(issuesOf({ file: json, env: {} }).message).toContain(`${json}: not valid JSON`);
    const list = file('list.yaml', '- a\n- b\n');
    expect(issuesOf({ file: list, env: {} }).message).toContain(`${list}: must hold a mapping`);
  });
});
