import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CONFIG_KEYS,
  coerceConfigValue,
  deriveConfigKeys,
  findConfigKey,
  toSnakeCase,
} from '../../../src/config/index.js';

describe('config keys derived from the schema', () => {
  it('turns camelCase into SNAKE_CASE', () => {
    expect(toSnakeCase('caFile')).toBe('CA_FILE');
    expect(toSnakeCase('reconnectWaitMs')).toBe('RECONNECT_WAIT_MS');
    expect(toSnakeCase('maxPayloadBytes')).toBe('MAX_PAYLOAD_BYTES');
    expect(toSnakeCase('servers')).toBe('SERVERS');
  });

  it('names the env variables of the design contract', () => {
    const env = Object.fromEntries(CONFIG_KEYS.map((k) => [k.key, k.env]));
    expect(env).toMatchObject({
      'nats.servers': 'NET_SYNC_NATS_SERVERS',
      'nats.tls.caFile': 'NET_SYNC_NATS_TLS_CA_FILE',
      'api.listen': 'NET_SYNC_API_LISTEN',
      'buffer.path': 'NET_SYNC_BUFFER_PATH',
      'mesh.peers': 'NET_SYNC_MESH_PEERS',
      'mesh.keyFile': 'NET_SYNC_MESH_KEY_FILE',
      'consensus.quorum': 'NET_SYNC_CONSENSUS_QUORUM',
      'telemetry.scout': 'NET_SYNC_TELEMETRY_SCOUT',
      streams: 'NET_SYNC_STREAMS',
    });
    expect(new Set(CONFIG_KEYS.map((k) => k.env)).size).toBe(CONFIG_KEYS.length);
  });

  it('reads each leaf type from the schema', () => {
    expect(findConfigKey('nats.servers')?.shape).toEqual({ kind: 'list', element: new Set(['string']) });
    expect(findConfigKey('telemetry.scout')?.shape).toEqual({ kind: 'scalar', accepts: new Set(['boolean']) });
    expect(findConfigKey('consensus.quorum')?.shape).toEqual({
      kind: 'scalar',
      accepts: new Set(['number', 'string']),
    });
    expect(findConfigKey('commit.window')?.shape).toEqual({ kind: 'scalar', accepts: new Set(['number']) });
    expect(findConfigKey('streams')?.shape).toEqual({ kind: 'json' });
    expect(findConfigKey('nats.tls')).toBeUndefined(); // sections are not leaves
  });

  it('refuses a schema where two keys share an env name', () => {
    const clash = z.object({ a: z.object({ bC: z.string() }), aB: z.object({ c: z.string() }) });
    expect(() => deriveConfigKeys(clash)).toThrow(/both map to NET_SYNC_A_B_C/);
  });
});

describe('coerceConfigValue', () => {
  const scalar = (...t: Array<'string' | 'number' | 'boolean'>) => ({ kind: 'scalar' as const, accepts: new Set(t) });
  it('prefers numbers, then booleans, then the string', () => {
    expect(coerceConfigValue(scalar('number', 'string'), '2')).toEqual({ ok: true, value: 2 });
    expect(coerceConfigValue(scalar('number', 'string'), '2m')).toEqual({ ok: true, value: '2m' });
    expect(coerceConfigValue(scalar('boolean'), 'false')).toEqual({ ok: true, value: false });
    expect(coerceConfigValue(scalar('string'), ' x ')).toEqual({ ok: true, value: 'x' });
    expect(coerceConfigValue(scalar('number'), 'x')).toMatchObject({ ok: false });
  });
  it('splits lists on commas', () => {
    expect(coerceConfigValue({ kind: 'list', element: new Set(['string']) }, 'a, b,,c')).toEqual({
      ok: true,
      value: ['a', 'b', 'c'],
    });
    expect(coerceConfigValue({ kind: 'list', element: new Set(['string']) }, '')).toEqual({ ok: true, value: [] });
  });
});
