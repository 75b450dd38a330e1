// `telemetry.summarise` (docs/telemetry.md): who summarises a node's points, the default, how
// `telemetry.scout` implies scouts, the contradiction refused naming the key, and when a node
// starts a mesh for telemetry at all.
import { describe, expect, it } from 'vitest';
import { loadConfig, summariseMode } from '../../../src/config/index.js';
import { findConfigKey } from '../../../src/config/config-keys.js';
import { meshWanted } from '../../../src/service/mesh-wiring.js';

const A = '12D3KooWA1111111111111111111111111111111111111111111';
const PEER = `/ip4/127.0.0.1/tcp/4001/p2p/${A}`;

function errorOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('telemetry.summarise', () => {
  it('defaults to origin, and is settable by env as NET_SYNC_TELEMETRY_SUMMARISE', () => {
    expect(loadConfig({ env: {} }).telemetry.summarise).toBe('origin');
    expect(findConfigKey('telemetry.summarise')?.env).toBe('NET_SYNC_TELEMETRY_SUMMARISE');
    expect(loadConfig({ env: { NET_SYNC_TELEMETRY_SUMMARISE: 'scouts' } }).telemetry.summarise).toBe('scouts');
    expect(loadConfig({ env: { NET_SYNC_TELEMETRY_SUMMARISE: 'origin' } }).telemetry.summarise).toBe('origin');
  });

  it('a scout without the key runs scouts, so configs written before it keep their scouts', () => {
    const c = loadConfig({ env: { NET_SYNC_TELEMETRY_SCOUT: 'true' } });
    expect(c.telemetry).toMatchObject({ scout: true, summarise: 'scouts' });
    expect(loadConfig({ env: {}, overrides: { 'telemetry.scout': true } }).telemetry.summarise).toBe('scouts');
  });

  it('refuses a scout told to summarise at the origin, naming telemetry.summarise', () => {
    const err = errorOf(() =>
      loadConfig({ env: { NET_SYNC_TELEMETRY_SCOUT: 'true', NET_SYNC_TELEMETRY_SUMMARISE: 'origin' } }),
    );
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', field: 'telemetry.summarise' });
    expect(String((err as Error).message)).toMatch(/telemetry\.scout/);
  });

  it('refuses an unknown value, naming the key', () => {
    const err = errorOf(() => loadConfig({ env: { NET_SYNC_TELEMETRY_SUMMARISE: 'everyone' } }));
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', field: 'telemetry.summarise' });
  });

  it('summariseMode: a scout always runs scouts, whatever a hand-built config says', () => {
    expect(summariseMode({ scout: false })).toBe('origin');
    expect(summariseMode({ scout: false, summarise: 'scouts' })).toBe('scouts');
    expect(summariseMode({ scout: true })).toBe('scouts');
    expect(summariseMode({ scout: true, summarise: 'origin' })).toBe('scouts');
  });
});

describe('meshWanted', () => {
  const cfg = (env: Record<string, string>) => loadConfig({ env });

  it('consensus always runs a mesh, whoever summarises telemetry', () => {
    expect(meshWanted(cfg({ NET_SYNC_MESH_ENABLED: 'true', NET_SYNC_CONSENSUS_COHORT: A }))).toBe(true);
    expect(meshWanted(cfg({ NET_SYNC_CONSENSUS_QUORUM: 'majority', NET_SYNC_CONSENSUS_MEMBERS: A }))).toBe(true);
  });

  it('without consensus, peers start a mesh only for scouts: an origin that summarises itself needs none', () => {
    expect(meshWanted(cfg({}))).toBe(false);
    expect(meshWanted(cfg({ NET_SYNC_MESH_PEERS: PEER }))).toBe(false);
    expect(meshWanted(cfg({ NET_SYNC_MESH_PEERS: PEER, NET_SYNC_TELEMETRY_SUMMARISE: 'scouts' }))).toBe(true);
    expect(meshWanted(cfg({ NET_SYNC_TELEMETRY_SCOUT: 'true' }))).toBe(true);
    expect(meshWanted(cfg({ NET_SYNC_TELEMETRY_SUMMARISE: 'scouts' }))).toBe(false);
  });
});
