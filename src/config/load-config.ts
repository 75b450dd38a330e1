/**
 * Loads the effective config from four layers, each overriding the one before: schema
 * defaults < file (YAML or JSON) < env (`NET_SYNC_*`) < flags. Env and flag values are strings
 * coerced by the leaf's schema type (see {@link CONFIG_KEYS}); the merged result is validated
 * once, and every problem is reported together in one {@link ConfigError}.
 */
import { ConfigError, type ConfigIssue } from './config-error.js';
import { CONFIG_KEYS, ENV_PREFIX, findConfigKey, findConfigKeyByEnv, type ConfigKey } from './config-keys.js';
import { coerceConfigValue } from './coerce-value.js';
import { readConfigFile } from './read-config-file.js';
import { ConfigSchema, type Config } from './schema.js';
import { formatKeyPath, fromZodIssues, type PathIssue } from './zod-issues.js';

/** Inputs of {@link loadConfig}. Only `src/cli` reads argv and env; it passes them here. */
export interface LoadConfigOptions {
  /** Config file (YAML or JSON). Absent: defaults, env and flags only. */
  file?: string;
  /** The environment; only `NET_SYNC_*` variables are read, and an unknown one is an error. */
  env: Record<string, string | undefined>;
  /** Dotted key → value, from flags. Strings are coerced like env values; other values pass as-is. */
  overrides?: Record<string, unknown>;
  /** Dotted key → the flag that set it (e.g. `--api-listen`), for messages. Default `--set <key>`. */
  overrideSources?: Record<string, string>;
}

/** Mutable merge state shared by the layers. */
interface Layering {
  raw: Record<string, unknown>;
  issues: ConfigIssue[];
  /** Dotted key → where its value came from, for keys set by env or flags. */
  sources: Map<string, string>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const seg of path.slice(0, -1)) {
    const next = node[seg];
    if (!isRecord(next)) node[seg] = {};
    node = node[seg] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function setCoerced(state: Layering, key: ConfigKey, raw: string, source: string): void {
  const c = coerceConfigValue(key.shape, raw);
  if (!c.ok) {
    state.issues.push({ key: key.key, source, message: c.message });
    return;
  }
  setPath(state.raw, key.path, c.value);
  state.sources.set(key.key, source);
}

function applyEnv(state: Layering, env: Record<string, string | undefined>): void {
  const names = Object.keys(env)
    .filter((n) => n.startsWith(ENV_PREFIX))
    .sort();
  for (const name of names) {
    const value = env[name];
    if (value === undefined) continue;
    const key = findConfigKeyByEnv(name);
    if (key === undefined) {
      state.issues.push({ key: name, message: unknownEnvMessage(name) });
      continue;
    }
    // An empty variable clears a list but otherwise means "not set" (compose files write `X=`).
    if (value === '' && key.shape.kind !== 'list') continue;
    setCoerced(state, key, value, name);
  }
}

function applyOverrides(state: Layering, overrides: Record<string, unknown>, from: Record<string, string>): void {
  for (const [dotted, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const source = from[dotted] ?? `--set ${dotted}`;
    const key = findConfigKey(dotted);
    if (key === undefined) {
      state.issues.push({ key: dotted, source, message: 'unknown key' });
    } else if (typeof value === 'string') {
      setCoerced(state, key, value, source);
    } else {
      setPath(state.raw, key.path, value);
      state.sources.set(key.key, source);
    }
  }
}

/** Names the source of the longest set key that prefixes the issue's path. */
function withSource(issue: PathIssue, sources: ReadonlyMap<string, string>): ConfigIssue {
  const out: ConfigIssue = { key: formatKeyPath(issue.path), message: issue.message };
  for (let n = issue.path.length; n > 0; n--) {
    const prefix = issue.path.slice(0, n);
    if (!prefix.every((s) => typeof s === 'string')) continue;
    const source = sources.get(prefix.join('.'));
    if (source !== undefined) return { ...out, source };
  }
  return out;
}

/**
 * Loads and validates the config. Throws {@link ConfigError} (code `CONFIG_INVALID`) listing
 * every issue as `<key path>[ (from <source>)]: <message>`; a missing or unparsable file, an
 * unknown key in the file, an unknown `NET_SYNC_*` variable and an unknown flag key are issues too.
 */
export function loadConfig(options: LoadConfigOptions): Config {
  const raw = options.file === undefined ? {} : readConfigFile(options.file);
  const state: Layering = { raw, issues: [], sources: new Map() };
  applyEnv(state, options.env);
  applyOverrides(state, options.overrides ?? {}, options.overrideSources ?? {});
  const result = ConfigSchema.safeParse(state.raw);
  if (result.success && state.issues.length === 0) return result.data;
  const schemaIssues = result.success ? [] : fromZodIssues(result.error.issues);
  throw new ConfigError([...state.issues, ...schemaIssues.map((i) => withSource(i, state.sources))]);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

function unknownEnvMessage(name: string): string {
  let best: { env: string; d: number } | undefined;
  for (const k of CONFIG_KEYS) {
    const d = editDistance(name, k.env);
    if (best === undefined || d < best.d) best = { env: k.env, d };
  }
  const hint = best !== undefined && best.d <= 3 ? `; did you mean ${best.env}?` : '';
  return `unknown environment variable: no config key maps to it${hint}`;
}
