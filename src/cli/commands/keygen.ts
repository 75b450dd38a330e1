/**
 * `net-sync keygen`: writes a new Ed25519 libp2p identity (mode 0600) and prints its peer ID.
 * An existing file is kept unless `--force` is given (exit 1 otherwise).
 */
import { existsSync } from 'node:fs';
import { hasCode } from '../../core/errors.js';
import { generateIdentity, identityPeerId, writeIdentity } from '../../mesh/identity.js';
import type { CommandContext } from '../command-context.js';
import { ExitCode } from '../exit-code.js';

/** Options of `net-sync keygen`. */
export interface KeygenOptions {
  /** --out: where to write the key. Absent: `mesh.keyFile` from config. */
  out?: string;
  /** --force: replace an existing key file (its peer ID is lost). */
  force: boolean;
}

/** Runs `net-sync keygen`; prints the peer ID (`--json`: `{"peerId", "keyFile"}`). */
export async function runKeygen(ctx: CommandContext, options: KeygenOptions): Promise<number> {
  const keyFile = options.out ?? ctx.config.mesh.keyFile;
  if (!options.force && existsSync(keyFile)) {
    ctx.out.error('MESH_IDENTITY', `${keyFile} already exists; use --force to replace it (the old peer ID is lost)`);
    return ExitCode.Failure;
  }
  const key = await generateIdentity();
  try {
    await writeIdentity(keyFile, key, { force: options.force });
  } catch (err) {
    if (!hasCode(err, 'MESH_IDENTITY')) throw err;
    ctx.out.error(err.code, err.message);
    return ExitCode.Failure;
  }
  const peerId = identityPeerId(key);
  ctx.out.result({ peerId, keyFile }, () => {
    ctx.out.text(peerId);
    if (ctx.tty) ctx.out.note(`wrote ${keyFile} (mode 0600)`);
  });
  return ExitCode.Ok;
}
