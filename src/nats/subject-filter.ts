/**
 * NATS subject wildcards (`*` one token, `>` one or more trailing tokens), as pure functions.
 */

/**
 * True when every subject matched by `filter` is also matched by `pattern`, i.e. `filter` may
 * be a consumer filter on a stream capturing `pattern` (nats-server 2.9 requires that).
 */
export function isSubjectSubset(filter: string, pattern: string): boolean {
  const f = filter.split('.');
  const p = pattern.split('.');
  for (let i = 0; i < f.length; i++) {
    const pt = p[i];
    const ft = f[i] as string;
    if (pt === undefined) return false;
    if (pt === '>') return true;
    if (ft === '>') return false;
    if (pt === '*') continue;
    if (ft !== pt) return false;
  }
  return f.length === p.length;
}

/** True when the concrete `subject` is matched by `pattern`. */
export function subjectMatches(subject: string, pattern: string): boolean {
  return isSubjectSubset(subject, pattern);
}
