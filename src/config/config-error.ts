/**
 * The one error config loading raises: every problem found, each naming its key (and, for a
 * value set by env or a flag, where it came from), so one run shows them all.
 */
import { NetSyncError } from '../core/errors.js';

/** One problem with the config. */
export interface ConfigIssue {
  /** Key path at fault, e.g. `mesh.listen[0]`; the file path or env variable when no key applies. */
  key: string;
  /** What is wrong, e.g. `not a multiaddr`. */
  message: string;
  /** Where the value came from when not the file: `NET_SYNC_API_LISTEN`, `--api-listen`, `--set api.listen`. */
  source?: string;
}

/** Renders one issue as `<key> (from <source>): <message>`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const from = issue.source === undefined ? '' : ` (from ${issue.source})`;
  return `${issue.key}${from}: ${issue.message}`;
}

/** Invalid config (code `CONFIG_INVALID`); the CLI exits 2 on it. */
export class ConfigError extends NetSyncError {
  /** Every issue found, in a stable order (file, env, flags, then schema order). */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    const lines = issues.map((i) => `  ${formatConfigIssue(i)}`);
    const head = issues.length === 1 ? 'invalid config:' : `invalid config (${issues.length} issues):`;
    super('CONFIG_INVALID', [head, ...lines].join('\n'), { cause: options?.cause, field: issues[0]?.key });
    this.issues = issues;
  }
}
