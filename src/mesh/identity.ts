/**
 * The node's libp2p identity: an Ed25519 private key stored as libp2p protobuf in a file of
 * mode 0600. Writes go to a temp file that is fsynced and then linked (or, with `force`,
 * renamed) into place, so a crash never leaves a half-written key and, without `force`, an
 * existing key is never replaced.
 */
import { chmod, copyFile, constants, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { NetSyncError } from '../core/errors.js';

/** File mode of an identity file: owner read/write only. */
export const IDENTITY_FILE_MODE = 0o600;

/** Creates a new Ed25519 identity. */
export async function generateIdentity(): Promise<PrivateKey> {
  return generateKeyPair('Ed25519');
}

/** The peer ID (base58, `12D3KooW…` for Ed25519) of a private key. */
export function identityPeerId(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString();
}

function identityError(message: string, path: string, cause?: unknown): NetSyncError {
  return new NetSyncError('MESH_IDENTITY', `${message}: ${path}`, { cause, field: 'mesh.keyFile' });
}

async function writeTemp(tmp: string, bytes: Uint8Array): Promise<void> {
  const fh = await open(tmp, 'wx', IDENTITY_FILE_MODE);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await chmod(tmp, IDENTITY_FILE_MODE); // open's mode is reduced by the umask
}

async function linkExclusive(tmp: string, path: string): Promise<void> {
  try {
    await link(tmp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Some filesystems have no hard links; an exclusive copy keeps the no-overwrite promise.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw err;
    await copyFile(tmp, path, constants.COPYFILE_EXCL);
    await chmod(path, IDENTITY_FILE_MODE);
  }
}

/**
 * Writes `key` to `path` (mode 0600), creating parent directories. Without `force` an existing
 * file is left alone and a `MESH_IDENTITY` error is thrown.
 */
export async function writeIdentity(path: string, key: PrivateKey, options: { force?: boolean } = {}): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeTemp(tmp, privateKeyToProtobuf(key));
    if (options.force === true) await rename(tmp, path);
    else await linkExclusive(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw identityError('identity file already exists, refusing to overwrite', path, err);
    }
    throw identityError('cannot write identity file', path, err);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Reads the private key at `path`; a missing or undecodable file is a `MESH_IDENTITY` error. */
export async function loadIdentity(path: string): Promise<PrivateKey> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw identityError(missing ? 'identity file not found' : 'cannot read identity file', path, err);
  }
  try {
    return privateKeyFromProtobuf(bytes);
  } catch (err) {
    throw identityError('not a libp2p private key (protobuf)', path, err);
  }
}

/** An identity as {@link loadOrCreateIdentity} found or made it. */
export interface LoadedIdentity {
  privateKey: PrivateKey;
  peerId: string;
  /** True when this call wrote the file. */
  created: boolean;
  /** The file's permission bits (e.g. 0o600); bits in 0o077 mean group or others may read it. */
  mode: number;
}

async function fileMode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o7777;
}

/** Loads the identity at `path`, or creates one there (mode 0600) when the file does not exist. */
export async function loadOrCreateIdentity(path: string): Promise<LoadedIdentity> {
  try {
    const privateKey = await loadIdentity(path);
    return { privateKey, peerId: identityPeerId(privateKey), created: false, mode: await fileMode(path) };
  } catch (err) {
    const missing = ((err as NetSyncError).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    if (!missing) throw err;
  }
  const privateKey = await generateIdentity();
  try {
    await writeIdentity(path, privateKey);
  } catch (err) {
    // Another process created it between our read and write: theirs wins.
    const raced = ((err as NetSyncError).cause as NodeJS.ErrnoException | undefined)?.code === 'EEXIST';
    if (!raced) throw err;
    const existing = await loadIdentity(path);
    return { privateKey: existing, peerId: identityPeerId(existing), created: false, mode: await fileMode(path) };
  }
  return { privateKey, peerId: identityPeerId(privateKey), created: true, mode: IDENTITY_FILE_MODE };
}
