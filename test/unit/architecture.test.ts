// The import direction of docs/architecture.md, checked on every file under src/: cli → devkit → service →
// {commit, consensus, telemetry, inbox, fleet, federation, reconcile} → core, and the adapters (buffer, mesh, nats,
// api, agent) → core. An adapter never imports another adapter, and core does no I/O. `observability`, `config` and
// `runtime` are shared leaves below the features.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** Which top-level folders of src/ each folder may import (besides itself): lint/layers.json. */
const { $comment: _comment, ...ALLOWED } = JSON.parse(readFileSync(join(ROOT, 'lint/layers.json'), 'utf8')) as Record<
  string,
  string[]
>;

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

  it("biome.jsonc's import rules match the table (node scripts/biome-layers.mjs regenerates them)", () => {
    const biome = JSON.parse(readFileSync(join(ROOT, 'biome.jsonc'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as {
      overrides: { includes: string[]; linter?: { rules: { style: { noRestrictedImports: unknown } } } }[];
    };
    const rules = new Map(
      biome.overrides.map((o) => [o.includes[0], o.linter?.rules.style.noRestrictedImports] as const),
    );
    for (const [area, allowed] of Object.entries(ALLOWED)) {
      const forbidden = Object.keys(ALLOWED).filter((a) => a !== area && !allowed.includes(a));
      const rule = rules.get(`src/${area}/**`) as { options: { patterns: { group: string[] }[] } } | undefined;
      expect(rule, `src/${area}`).toBeDefined();
      const groups = rule!.options.patterns[0]!.group;
      expect(groups, `src/${area}`).toEqual(
        forbidden.flatMap((a) => [`../${a}/**`, `../../${a}/**`, `../../../${a}/**`]),
      );
    }
  });
});
