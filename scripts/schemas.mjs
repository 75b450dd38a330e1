// Regenerates the JSON Schema files under schemas/ from the zod schemas in src/core/body-schemas.ts
// (run through `npm run schemas`, which builds first). test/unit/core/body-schemas.test.ts fails
// while a file is stale or a file under schemas/ has no source.
import { writeFileSync } from 'node:fs';

const { SCHEMA_SOURCES, jsonSchemaText } = await import('../dist/src/core/body-schemas.js');
for (const { file, schema } of SCHEMA_SOURCES) {
  writeFileSync(new URL(`../schemas/${file}`, import.meta.url), jsonSchemaText(schema));
  console.log(`schemas/${file}`);
}
