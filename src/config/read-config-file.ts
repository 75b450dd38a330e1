/**
 * Reads a config file: YAML or JSON, chosen by extension (`.yaml`, `.yml`, `.json`) or, for
 * any other name, by content (JSON if it starts with `{`). Every failure names the file.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';

function fail(file: string, message: string, cause?: unknown): never {
  throw new ConfigError([{ key: file, message }], { cause });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail(file, 'config file not found', err);
    if (code === 'EISDIR') fail(file, 'config file is a directory', err);
    return fail(file, `cannot read config file (${code ?? (err as Error).message})`, err);
  }
}

function parseText(file: string, text: string): unknown {
  const ext = extname(file).toLowerCase();
  const json = ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && text.trimStart().startsWith('{'));
  try {
    return json ? (JSON.parse(text) as unknown) : (parseYaml(text) as unknown);
  } catch (err) {
    const what = json ? 'JSON' : 'YAML';
    return fail(file, `not valid ${what}: ${(err as Error).message.split('\n')[0]}`, err);
  }
}

/** The file's top-level mapping (an empty file is `{}`); throws {@link ConfigError}. */
export function readConfigFile(file: string): Record<string, unknown> {
  const data = parseText(file, readText(file));
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    fail(file, 'must hold a mapping of sections (nats, api, buffer, mesh, ...)');
  }
  return data as Record<string, unknown>;
}
