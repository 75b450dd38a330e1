// Regenerates the import-direction overrides of biome.jsonc from lint/layers.json, so the editor
// flags a wrong import as test/unit/architecture.test.ts would. Run after changing the layers.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const root = new URL('..', import.meta.url);
const { $comment: _, ...layers } = JSON.parse(readFileSync(new URL('lint/layers.json', root), 'utf8'));

/** The noRestrictedImports override for one folder of src/. */
function layerOverride(area, allowed) {
  const forbidden = Object.keys(layers).filter((a) => a !== area && !allowed.includes(a));
  const patterns = [
    {
      group: forbidden.flatMap((a) => [`../${a}/**`, `../../${a}/**`, `../../../${a}/**`]),
      message: `src/${area} may import only ${allowed.join(', ') || 'nothing outside itself'} (docs/architecture.md).`,
    },
  ];
  if (area === 'core')
    patterns.push({ group: ['node:*'], message: 'src/core does no I/O: no node:* modules (docs/architecture.md).' });
  return {
    includes: [`src/${area}/**`],
    linter: { rules: { style: { noRestrictedImports: { level: 'error', options: { patterns } } } } },
  };
}

const file = new URL('biome.jsonc', root);
const text = readFileSync(file, 'utf8');
const start = text.indexOf('  "overrides": [');
if (start < 0) throw new Error('biome.jsonc has no "overrides" array at the top level');
const overrides = Object.entries(layers).map(([area, allowed]) => layerOverride(area, allowed));
writeFileSync(file, `${text.slice(0, start)}  "overrides": ${JSON.stringify(overrides, null, 2)}\n}\n`);
execFileSync('npx', ['biome', 'format', '--write', 'biome.jsonc'], { cwd: root, stdio: 'inherit' });
