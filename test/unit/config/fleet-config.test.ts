// The fleet's config keys (docs/fleet.md): members inline and from a file, shard size, the quorum
// per shard, and the membership rule that a cohort generalises.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fleetConfigured, loadConfig, parseMembersFile, readMembers } from '../../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'net-sync-fleet-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const A = '12D3KooWA1111111111111111111111111111111111111111111';
const B = '12D3KooWB2222222222222222222222222222222222222222222';
const C = '12D3KooWC3333333333333333333333333333333333333333333';

function errorOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('consensus.members and consensus.shardSize', () => {
  it('reads the members from env, comma-separated, and the shard size; the default size is 7', () => {
    const c = loadConfig({
      env: {
        NET_SYNC_MESH_ENABLED: 'true',
        NET_SYNC_CONSENSUS_MEMBERS: `${A},${B},${C}`,
        NET_SYNC_CONSENSUS_SHARD_SIZE: '5',
        NET_SYNC_CONSENSUS_QUORUM: 'majority',
      },
    });
    expect(c.consensus).toMatchObject({ members: [A, B, C], shardSize: 5, quorum: 'majority' });
    expect(fleetConfigured(c.consensus)).toBe(true);
    expect(loadConfig({ env: {} }).consensus).toMatchObject({ members: [], shardSize: 7 });
    expect(fleetConfigured(loadConfig({ env: {} }).consensus)).toBe(false);
  });

  it('members or a members file satisfy the membership rule; with none nor a cohort the error names keys', () => {
    const err = errorOf(() => loadConfig({ env: { NET_SYNC_CONSENSUS_QUORUM: '2' } }));
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', field: 'consensus.cohort' });
    expect(String((err as Error).message)).toMatch(/consensus\.members.*consensus\.membersFile.*consensus\.cohort/s);
    expect(String((err as Error).message)).toMatch(/consensus\.openMembership/);
    const file = join(dir, 'members.txt');
    writeFileSync(file, `${A}\n`);
    expect(
      loadConfig({ env: { NET_SYNC_MESH_ENABLED: 'true', NET_SYNC_CONSENSUS_MEMBERS_FILE: file } }).consensus
        .membersFile,
    ).toBe(file);
  });

  it('refuses members and a cohort together, and a count above the shard size', () => {
    expect(
      errorOf(() =>
        loadConfig({
          env: { NET_SYNC_MESH_ENABLED: 'true', NET_SYNC_CONSENSUS_MEMBERS: A, NET_SYNC_CONSENSUS_COHORT: B },
        }),
      ),
    ).toMatchObject({ code: 'CONFIG_INVALID', field: 'consensus.cohort' });
    const err = errorOf(() =>
      loadConfig({
        env: {
          NET_SYNC_CONSENSUS_MEMBERS: `${A},${B}`,
          NET_SYNC_CONSENSUS_SHARD_SIZE: '3',
          NET_SYNC_CONSENSUS_QUORUM: '4',
        },
      }),
    );
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', field: 'consensus.quorum' });
    expect(errorOf(() => loadConfig({ env: { NET_SYNC_CONSENSUS_SHARD_SIZE: '0' } }))).toMatchObject({
      field: 'consensus.shardSize',
    });
  });

  it('a cohort config runs unchanged', () => {
    const c = loadConfig({ env: { NET_SYNC_CONSENSUS_QUORUM: '2', NET_SYNC_CONSENSUS_COHORT: `${A},${B}` } });
    expect(c.consensus).toMatchObject({ cohort: [A, B], members: [] });
    expect(fleetConfigured(c.consensus)).toBe(false);
  });
});

describe('the members file', () => {
  it('takes one peer ID per line, skipping blanks and # comments, after the inline members', () => {
    const file = join(dir, 'fleet.txt');
    writeFileSync(file, `# the fleet\n${B}  # rack 2\n\n   ${C}\r\n`);
    expect(readMembers({ members: [A], membersFile: file })).toEqual([A, B, C]);
    expect(readMembers({ members: [A] })).toEqual([A]);
  });

  it('names the key and the line of a bad entry, and the key of an unreadable file', () => {
    expect(() => parseMembersFile(`${A}\nnot a peer id\n`, 'f.txt')).toThrow(/consensus\.membersFile.*f\.txt:2/s);
    const err = errorOf(() => readMembers({ members: [], membersFile: join(dir, 'missing.txt') }));
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', field: 'consensus.membersFile' });
  });
});
