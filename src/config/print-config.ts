/**
 * The effective config as text, for `net-sync config print`: YAML for people, JSON for tools.
 * Secrets ({@link SECRET_KEYS}) that are set are shown as `****`; unset ones stay absent. A
 * password or token inside a URL (`nats://bob:pw@host`) is masked too, wherever the URL is.
 */
import { stringify as stringifyYaml } from 'yaml';
import { redactUrl } from '../core/redact-url.js';
import { SECRET_KEYS, type Config } from './schema.js';

/** What a set secret is printed as. */
export const SECRET_MASK = '****';

/** Output format of {@link printConfig}. */
export type ConfigFormat = 'yaml' | 'json';

// Every string in the tree, so that a URL with credentials is masked whichever key holds it.
function redactUrls(node: unknown): unknown {
  if (typeof node === 'string') return redactUrl(node);
  if (Array.isArray(node)) return node.map(redactUrls);
  if (typeof node === 'object' && node !== null)
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, redactUrls(v)]));
  return node;
}

/**
 * A deep copy of `config` with every set secret replaced by {@link SECRET_MASK}, and the password
 * (or token) of every URL with user info masked (`nats://bob:****@host`).
 */
export function maskSecrets(config: Config): Record<string, unknown> {
  const copy = redactUrls(config) as Record<string, unknown>;
  for (const dotted of SECRET_KEYS) {
    const path = dotted.split('.');
    let node: unknown = copy;
    for (const seg of path.slice(0, -1)) node = (node as Record<string, unknown> | undefined)?.[seg];
    const leaf = path[path.length - 1] as string;
    if (typeof node === 'object' && node !== null && (node as Record<string, unknown>)[leaf] !== undefined) {
      (node as Record<string, unknown>)[leaf] = SECRET_MASK;
    }
  }
  return copy;
}

/** Renders the masked config as YAML or as one JSON document (2-space indent, trailing newline). */
export function printConfig(config: Config, format: ConfigFormat = 'yaml'): string {
  const masked = maskSecrets(config);
  return format === 'json' ? `${JSON.stringify(masked, null, 2)}\n` : stringifyYaml(masked);
}
