/**
 * NATS subject rules of the root.solar taxonomy (seed 000, docs/seeds.md): tokens are non-empty and free of
 * whitespace and wildcards, and the depth after the prefix is at most 4.
 */

/** Maximum number of tokens after the configured prefix. */
export const MAX_SUBJECT_DEPTH = 4;

/**
 * Longest subject accepted, in characters (ASCII only, so bytes). nats-server drops a connection
 * whose protocol line passes `max_control_line` (4,096 bytes by default); 256 leaves room for the
 * reply inbox and sizes, and is far above any subject of the taxonomy.
 */
export const MAX_SUBJECT_LENGTH = 256;

const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * Checks that `subject` is a concrete subject under `<prefix>.<area>.` with a depth of at most
 * 4 after the prefix. Commands name a target and an action (`<prefix>.command.*.*`, docs/contracts.md),
 * so the `command` area needs at least two tokens after it. Returns an error message, or null
 * when valid.
 */
export function checkSubject(subject: unknown, prefix: string, area: string): string | null {
  if (typeof subject !== 'string' || subject.length === 0) return 'must be a non-empty string';
  if (subject.length > MAX_SUBJECT_LENGTH)
    return `must be at most ${MAX_SUBJECT_LENGTH} characters (got ${subject.length})`;
  const root = `${prefix}.${area}.`;
  if (!subject.startsWith(root)) return `must start with "${root}"`;
  const rest = subject.slice(prefix.length + 1).split('.');
  if (rest.length > MAX_SUBJECT_DEPTH) {
    return `depth after "${prefix}" must be at most ${MAX_SUBJECT_DEPTH} tokens (got ${rest.length})`;
  }
  const least = area === 'command' ? 2 : 1;
  if (rest.length < 1 + least)
    return least === 1
      ? `needs at least one token after "${root}"`
      : `needs at least ${least} tokens after "${root}" (${root}<target>.<action>)`;
  for (const token of rest) {
    if (!TOKEN.test(token)) return `token "${token}" must match ${TOKEN.source}`;
  }
  return null;
}
