/**
 * Reads `consensus.membersFile` (one peer ID per line, `#` starts a comment, blank lines
 * skipped) and gives the fleet's member list: the file's IDs after the inline
 * `consensus.members`. Read at start and again on SIGHUP; failures name the key.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './config-error.js';
import type { ConsensusConfig } from './schema.js';

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]+$/;

/** The peer IDs in a members file's text; throws {@link ConfigError} naming the first bad line. */
export function parseMembersFile(text: string, file: string): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    if (!PEER_ID.test(line))
      throw new ConfigError([
        { key: 'consensus.membersFile', message: `${file}:${i + 1}: not a peer ID (one base58 peer ID per line)` },
      ]);
    out.push(line);
  });
  return out;
}

/** `consensus.members` followed by the members file's IDs (when set), as listed; duplicates are the plan's business. */
export function readMembers(consensus: Pick<ConsensusConfig, 'members' | 'membersFile'>): string[] {
  const file = consensus.membersFile;
  if (file === undefined) return [...consensus.members];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError([{ key: 'consensus.membersFile', message: `cannot read ${file} (${code})` }], {
      cause: err,
    });
  }
  return [...consensus.members, ...parseMembersFile(text, file)];
}
