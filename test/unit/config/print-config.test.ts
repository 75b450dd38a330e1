import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, maskSecrets, printConfig, SECRET_KEYS } from '../../../src/config/index.js';

describe('printConfig', () => {
  const config = loadConfig({
    env: { NET_SYNC_NATS_PASS: 'hunter2', NET_SYNC_NATS_TOKEN: 's3cret', NET_SYNC_NATS_USER: 'bob' },
  });

  it('masks set secrets and leaves unset ones absent', () => {
    const masked = maskSecrets(config) as { nats: Record<string, unknown>; api: Record<string, unknown> };
    expect(masked.nats['pass']).toBe('****');
    expect(masked.nats['token']).toBe('****');
    expect(masked.nats['user']).toBe('bob');
    expect('token' in masked.api).toBe(false);
    expect(config.nats.pass).toBe('hunter2'); // the original is untouched
    expect(SECRET_KEYS).toContain('api.token');
  });

  it('prints YAML and JSON without the secret values', () => {
    const yaml = printConfig(config, 'yaml');
    const json = printConfig(config, 'json');
    for (const text of [yaml, json]) {
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain('s3cret');
    }
    expect(parse(yaml)).toEqual(JSON.parse(json));
    expect(JSON.parse(json).nats.servers).toEqual(['nats://127.0.0.1:4222']);
  });

  it('masks api.token too', () => {
    const c = loadConfig({ env: {}, overrides: { 'api.token': 'abc' } });
    expect(JSON.parse(printConfig(c, 'json')).api.token).toBe('****');
  });

  it('masks a password or token inside a URL, wherever the URL is', () => {
    const c = loadConfig({
      env: {
        NET_SYNC_NATS_SERVERS: 'nats://bob:hunter2@a:4222,nats://tok3n@b:4222,tls://c:4222',
        NET_SYNC_INBOX_PUSH_URL: 'http://agent:pa55@127.0.0.1:9000/inbox',
        NET_SYNC_INBOX_SUBJECTS: 'root.solar.command.>',
      },
    });
    const printed = printConfig(c, 'json');
    for (const secret of ['hunter2', 'tok3n', 'pa55']) expect(printed).not.toContain(secret);
    const parsed = JSON.parse(printed);
    expect(parsed.nats.servers).toEqual(['nats://bob:****@a:4222', 'nats://****@b:4222', 'tls://c:4222']);
    expect(parsed.inbox.pushUrl).toBe('http://agent:****@127.0.0.1:9000/inbox');
    expect(c.nats.servers[0]).toBe('nats://bob:hunter2@a:4222'); // the config itself keeps it
  });
});
