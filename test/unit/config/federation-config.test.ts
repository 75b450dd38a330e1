import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/index.js';
import { federationKeyFile, trustedKeys } from '../../../src/config/schema/federation.js';

const dir = mkdtempSync(join(tmpdir(), 'net-sync-federation-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
let ids: string[] = [];

function load(federation: unknown, env: Record<string, string> = {}): ReturnType<typeof loadConfig> {
  const path = join(dir, `${n++}.json`);
  writeFileSync(path, JSON.stringify({ federation }));
  return loadConfig({ file: path, env });
}

function keysAtFault(federation: unknown): string[] {
  try {
    load(federation);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => i.key);
  }
  throw new Error('expected a ConfigError');
}

beforeAll(async () => {
  ids = await Promise.all([1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()));
});

describe('config section federation', () => {
  it('is off by default, with the contract defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c.federation).toEqual({ signers: [], ackTimeoutMs: 60_000, maxAckPending: 256, partners: [] });
    expect(federationKeyFile(c)).toBe(c.mesh.keyFile);
  });

  it('refuses a federation.maxAckPending outside 1-10,000, naming it', () => {
    for (const bad of [0, 10_001, 1.5]) expect(() => load({ maxAckPending: bad })).toThrow(/federation\.maxAckPending/);
    expect(load({ maxAckPending: 1 }).federation.maxAckPending).toBe(1);
  });

  it('reads the contract keys; a key is a peer ID or {id, notBefore?, notAfter?}', () => {
    const c = load({
      name: 'org',
      keyFile: '/k/fed.key',
      signers: [ids[0]],
      ackTimeoutMs: '2m',
      pushUrl: 'http://127.0.0.1:9000/fed',
      partners: [
        {
          name: 'acme',
          send: true,
          receive: true,
          keys: [ids[1], { id: ids[2], notBefore: '2026-01-01T00:00:00Z', notAfter: '2027-01-01T00:00:00Z' }],
          threshold: 2,
          eventsSubject: 'acme.federation.outbound.events.org',
        },
      ],
    });
    expect(c.federation.ackTimeoutMs).toBe(120_000);
    expect(federationKeyFile(c)).toBe('/k/fed.key');
    const acme = c.federation.partners[0]!;
    expect(acme).toMatchObject({ name: 'acme', send: true, receive: true, threshold: 2 });
    expect(trustedKeys(acme)).toEqual([
      { id: ids[1] },
      { id: ids[2], notBeforeMs: Date.parse('2026-01-01T00:00:00Z'), notAfterMs: Date.parse('2027-01-01T00:00:00Z') },
    ]);
    expect(load({ name: 'org', partners: [{ name: 'beta' }] }).federation.partners[0]).toMatchObject({
      send: false,
      receive: false,
      threshold: 1,
      keys: [],
    });
  });

  it('is settable by env like every section', () => {
    const c = loadConfig({
      env: { NET_SYNC_FEDERATION_NAME: 'org', NET_SYNC_FEDERATION_SIGNERS: `${ids[0]},${ids[1]}` },
    });
    expect(c.federation.name).toBe('org');
    expect(c.federation.signers).toEqual([{ id: ids[0] }, { id: ids[1] }]);
  });

  it('takes a retired signer as {id, notAfter}, as a partner key', () => {
    const c = load({ name: 'org', signers: [{ id: ids[0], notAfter: '2026-01-01T00:00:00Z' }, ids[1]] });
    expect(c.federation.signers).toEqual([{ id: ids[0], notAfter: '2026-01-01T00:00:00Z' }, { id: ids[1] }]);
    expect(trustedKeys({ keys: c.federation.signers })).toEqual([
      { id: ids[0], notAfterMs: Date.parse('2026-01-01T00:00:00Z') },
      { id: ids[1] },
    ]);
  });

  it('names the key at fault', () => {
    expect(keysAtFault({ name: 'Org' })).toEqual(['federation.name']);
    expect(keysAtFault({ name: 'x'.repeat(33) })).toEqual(['federation.name']);
    expect(keysAtFault({ signers: ['nope'] })).toEqual(['federation.signers[0]']);
    expect(keysAtFault({ signers: [{ id: ids[0], notAfter: 'soon' }] })).toEqual(['federation.signers[0].notAfter']);
    expect(keysAtFault({ pushUrl: 'ftp://x' })).toEqual(['federation.pushUrl']);
    expect(keysAtFault({ surprise: 1 })).toEqual(['federation.surprise']);
    const partners = (p: unknown): string[] => keysAtFault({ name: 'org', partners: [{ name: 'ok' }, p] });
    expect(partners({ name: 'a.b' })).toEqual(['federation.partners[1].name']);
    expect(partners({ name: 'b', keys: ['12D3KooWnot'] })).toEqual(['federation.partners[1].keys[0].id']);
    expect(partners({ name: 'b', keys: [{ id: ids[0], notAfter: 'soon' }] })).toEqual([
      'federation.partners[1].keys[0].notAfter',
    ]);
    expect(
      partners({
        name: 'b',
        keys: [{ id: ids[0], notBefore: '2027-01-01T00:00:00Z', notAfter: '2026-01-01T00:00:00Z' }],
      }),
    ).toEqual(['federation.partners[1].keys[0].notAfter']);
    expect(partners({ name: 'b', receive: true, keys: [ids[0]], threshold: 2 })).toEqual([
      'federation.partners[1].threshold',
    ]);
    expect(partners({ name: 'b', threshold: 0 })).toEqual(['federation.partners[1].threshold']);
    expect(partners({ name: 'b', eventsSubject: 'a.*' })).toEqual(['federation.partners[1].eventsSubject']);
    expect(partners({ name: 'ok' })).toEqual(['federation.partners[1].name']);
  });
});
