// Tests src/mesh/identity.ts (used by `keygen`); kept here with the CLI that owns it for now.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/core/errors.js';
import {
  generateIdentity,
  identityPeerId,
  loadIdentity,
  loadOrCreateIdentity,
  writeIdentity,
} from '../../../src/mesh/identity.js';

const dir = mkdtempSync(join(tmpdir(), 'net-sync-id-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('identity', () => {
  it('round-trips an Ed25519 key through a 0600 file', async () => {
    const key = await generateIdentity();
    expect(key.type).toBe('Ed25519');
    const path = join(dir, 'a.key');
    await writeIdentity(path, key);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(identityPeerId(await loadIdentity(path))).toBe(identityPeerId(key));
  });

  it('refuses to overwrite without force', async () => {
    const path = join(dir, 'b.key');
    const first = await generateIdentity();
    await writeIdentity(path, first);
    const err = await writeIdentity(path, await generateIdentity()).catch((e: unknown) => e);
    expect(hasCode(err, 'MESH_IDENTITY')).toBe(true);
    expect(identityPeerId(await loadIdentity(path))).toBe(identityPeerId(first));
    const second = await generateIdentity();
    await writeIdentity(path, second, { force: true });
    expect(identityPeerId(await loadIdentity(path))).toBe(identityPeerId(second));
  });

  it('loadOrCreateIdentity creates once, then loads the same peer ID', async () => {
    const path = join(dir, 'sub', 'c.key');
    const created = await loadOrCreateIdentity(path);
    expect(created.created).toBe(true);
    const loaded = await loadOrCreateIdentity(path);
    expect(loaded).toMatchObject({ created: false, peerId: created.peerId });
  });

  it('names the file when it is not a key', async () => {
    const path = join(dir, 'junk.key');
    writeFileSync(path, 'not a key');
    const err = await loadIdentity(path).catch((e: unknown) => e);
    expect(hasCode(err, 'MESH_IDENTITY')).toBe(true);
    expect((err as Error).message).toContain(path);
    await expect(loadOrCreateIdentity(path)).rejects.toThrow(/not a libp2p private key/);
  });
});
