/**
 * The effective config as text, for `net-sync config print`: YAML for people, JSON for tools.
 * Secrets ({@link SECRET_KEYS}) that are set are shown as `****`; unset ones stay absent.
 */
import { stringify as stringifyYaml } from 'yaml';
import { SECRET_KEYS, type Config } from './schema.js';

/** What a set secret is printed as. */
export const SECRET_MASK = '****';

/** Output format of {@link printConfig}. */
export type ConfigFormat = 'yaml' | 'json';

/** A deep copy of `config` with every set secret replaced by {@link SECRET_MASK}. */
export function maskSecrets(config: Config): Record<string, unknown> {
  const copy = structuredClone(config) as Record<string, unknown>;
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
