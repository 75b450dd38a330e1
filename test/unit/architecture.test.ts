// The import direction of docs/architecture.md, checked on every file under src/: cli → service →
// {bridge, inbox, fleet, federation, reconcile} → core, and the adapters (buffer, mesh, nats, api, agent) → core. An adapter
// never imports another adapter, and core does no I/O. `observability`, `config` and `runtime`
// are shared leaves that see only core.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/** Which top-level folders of src/ each folder may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  observability: ['core'],
  config: ['core'],
  runtime: ['core'],
  bridge: ['core', 'observability'],
  reconcile: ['core'],
  buffer: ['core', 'observability'],
  mesh: ['core', 'observability', 'runtime', 'config'],
  nats: ['core', 'observability', 'runtime', 'config'],
  api: ['core', 'observability'],
  agent: ['core'],
  inbox: ['core', 'observability'],
  fleet: ['core', 'observability'],
  federation: ['core', 'observability'],
  service: [
    'core',
    'observability',
    'config',
    'runtime',
    'bridge',
    'inbox',
    'fleet',
    'federation',
    'reconcile',
    'buffer',
    'mesh',
    'nats',
    'api',
    'agent',
  ],
  cli: [
    'core',
    'observability',
    'config',
    'runtime',
    'bridge',
    'inbox',
    'fleet',
    'federation',
    'reconcile',
    'buffer',
    'mesh',
    'nats',
    'api',
    'agent',
    'service',
  ],
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Top-level folder of a file under src/ ('' for src/*.ts). */
function area(file: string): string {
  const parts = relative(SRC, file).split('/');
  return parts.length > 1 ? parts[0]! : '';
}

// `import … from './x.js'`, `export … from './x.js'`, `import './x.js'` and `import('./x.js')`.
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/^(?:import|export)[^'"]*?from\s+'(\.[^']+)'/gm),
    ...text.matchAll(/^import\s+'(\.[^']+)'/gm),
    ...text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g),
  ];
  return specifiers.map((m) => resolve(file, '..', m[1]!));
}

describe('import direction (STYLE.md)', () => {
  const files = tsFiles(SRC);

  it('finds the source tree', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(Object.keys(ALLOWED).sort()).toEqual([...new Set(files.map(area).filter((a) => a !== ''))].sort());
  });

  it('every relative import points inward', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = area(file);
      if (from === '') continue; // src/index.ts and the polyfills: the package surface
      for (const target of relativeImports(file)) {
        const to = area(target);
        if (relative(SRC, target) === 'polyfills.js') continue; // a side-effect leaf any entry point loads first
        if (to !== from && !ALLOWED[from]!.includes(to))
          violations.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('core does no I/O: no node:* modules and no timers', () => {
    const offenders = files
      .filter((f) => area(f) === 'core')
      .filter((f) => /from\s+'node:|\bset(Timeout|Interval|Immediate)\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(offenders).toEqual([]);
  });
});
