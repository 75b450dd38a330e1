/**
 * Zod issues rewritten for people: one entry per problem, with the key path as written in
 * config (`mesh.listen[0]`) and a message that says what is expected.
 */
import type { z } from 'zod';

/** A schema problem at a path, before its source is known. */
export interface PathIssue {
  path: readonly PropertyKey[];
  message: string;
}

type Issue = z.core.$ZodIssue;

/** `['mesh', 'listen', 0]` → `mesh.listen[0]`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(root)' : out;
}

const receivedUndefined = (i: Issue): boolean => i.code === 'invalid_type' && /received undefined$/.test(i.message);

function describeBranch(issues: readonly Issue[]): string {
  const first = issues[0];
  if (first === undefined) return 'valid';
  if (first.code === 'invalid_type') return `a ${first.expected}`;
  if (first.code === 'invalid_value') return first.values.map((v) => JSON.stringify(v)).join(' or ');
  return first.message;
}

function messageOf(issue: Issue): string {
  if (receivedUndefined(issue)) return 'required';
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    if (issue.errors.every((b) => b[0] !== undefined && receivedUndefined(b[0]))) return 'required';
    return `must be ${issue.errors.map(describeBranch).join(' or ')}`;
  }
  return issue.message;
}

/** Flattens zod issues; an unknown-keys issue becomes one `unknown key` per key. */
export function fromZodIssues(issues: readonly Issue[]): PathIssue[] {
  const out: PathIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...issue.path, key], message: 'unknown key' });
    } else {
      out.push({ path: issue.path, message: messageOf(issue) });
    }
  }
  return out;
}
