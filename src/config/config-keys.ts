/**
 * The settable config keys, derived by walking {@link ConfigSchema}: each leaf's dotted key,
 * its env variable name and the shape a string (from env or a flag) is coerced to. Nothing
 * here is hand-listed, so a key added to the schema is settable by env and `--set` at once.
 */
import type { z } from 'zod';
import { ConfigSchema } from './schema.js';

/** Prefix of every env variable that sets a config key. */
export const ENV_PREFIX = 'NET_SYNC_';

/** JSON types a scalar leaf accepts, read from the schema (a union may accept several). */
export type ScalarType = 'string' | 'number' | 'boolean';

/** How a string from env or a flag becomes the leaf's input value. */
export type ValueShape =
  | { kind: 'scalar'; accepts: ReadonlySet<ScalarType> }
  | { kind: 'list'; element: ReadonlySet<ScalarType> }
  | { kind: 'json' };

/** One settable leaf of the config. */
export interface ConfigKey {
  /** Dotted key, e.g. `nats.tls.caFile`. */
  readonly key: string;
  /** Path segments, e.g. `['nats', 'tls', 'caFile']`. */
  readonly path: readonly string[];
  /** Env variable, e.g. `NET_SYNC_NATS_TLS_CA_FILE`. */
  readonly env: string;
  /** Coercion applied to a string value. */
  readonly shape: ValueShape;
}

type AnySchema = z.core.$ZodType;
type Def = z.core.$ZodTypeDef & Record<string, unknown>;

const defOf = (s: AnySchema): Def => s._zod.def as Def;

/** Strips wrappers that do not change what a value looks like on input. */
function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (;;) {
    const def = defOf(s);
    if (['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type)) {
      s = def['innerType'] as AnySchema;
    } else if (def.type === 'pipe') {
      s = def['in'] as AnySchema; // input side: a transform sees what the user wrote
    } else {
      return s;
    }
  }
}

/** Scalar JSON types a schema accepts; empty when it is not a scalar. */
function scalarTypes(schema: AnySchema): Set<ScalarType> {
  const s = unwrap(schema);
  const def = defOf(s);
  switch (def.type) {
    case 'string':
    case 'enum':
    case 'template_literal':
      return new Set(['string']);
    case 'number':
    case 'int':
      return new Set(['number']);
    case 'boolean':
      return new Set(['boolean']);
    case 'literal':
      return new Set((def['values'] as unknown[]).map((v) => typeof v).filter(isScalarType));
    case 'union':
      return new Set((def['options'] as AnySchema[]).flatMap((o) => [...scalarTypes(o)]));
    default:
      return new Set();
  }
}

function isScalarType(t: string): t is ScalarType {
  return t === 'string' || t === 'number' || t === 'boolean';
}

function shapeOf(schema: AnySchema): ValueShape {
  const s = unwrap(schema);
  const def = defOf(s);
  if (def.type === 'array') {
    const element = scalarTypes(def['element'] as AnySchema);
    return element.size > 0 ? { kind: 'list', element } : { kind: 'json' };
  }
  const accepts = scalarTypes(s);
  return accepts.size > 0 ? { kind: 'scalar', accepts } : { kind: 'json' };
}

/** camelCase → SNAKE_CASE: `caFile` → `CA_FILE`, `reconnectWaitMs` → `RECONNECT_WAIT_MS`. */
export function toSnakeCase(segment: string): string {
  return segment
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();
}

/** Env variable name of a key path: `NET_SYNC_` + segments in SNAKE_CASE joined by `_`. */
export function envNameOf(path: readonly string[]): string {
  return ENV_PREFIX + path.map(toSnakeCase).join('_');
}

function walk(schema: AnySchema, path: string[], out: ConfigKey[]): void {
  const s = unwrap(schema);
  const def = defOf(s);
  if (def.type === 'object') {
    const shape = def['shape'] as Record<string, AnySchema>;
    for (const [name, child] of Object.entries(shape)) walk(child, [...path, name], out);
    return;
  }
  out.push({ key: path.join('.'), path, env: envNameOf(path), shape: shapeOf(s) });
}

/** Walks a schema into its leaves; throws if two keys would share an env name. */
export function deriveConfigKeys(schema: AnySchema): ConfigKey[] {
  const keys: ConfigKey[] = [];
  walk(schema, [], keys);
  const seen = new Map<string, string>();
  for (const k of keys) {
    const other = seen.get(k.env);
    if (other !== undefined) throw new Error(`config keys ${other} and ${k.key} both map to ${k.env}`);
    seen.set(k.env, k.key);
  }
  return keys;
}

/** Every settable key of {@link ConfigSchema}, in schema order. */
export const CONFIG_KEYS: ReadonlyArray<ConfigKey> = deriveConfigKeys(ConfigSchema);

const byKey = new Map(CONFIG_KEYS.map((k) => [k.key, k]));
const byEnv = new Map(CONFIG_KEYS.map((k) => [k.env, k]));

/** The leaf with this dotted key, if any. */
export function findConfigKey(key: string): ConfigKey | undefined {
  return byKey.get(key);
}

/** The leaf set by this env variable, if any. */
export function findConfigKeyByEnv(name: string): ConfigKey | undefined {
  return byEnv.get(name);
}
