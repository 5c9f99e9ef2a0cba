// Writes schemas/constitution.schema.json from the format description in src/core.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { constitutionJsonSchema } from '../src/core/constitution/jsonSchema.js';

const target = path.join(__dirname, '..', 'schemas', 'constitution.schema.json');
writeFileSync(target, `${JSON.stringify(constitutionJsonSchema(), null, 2)}\n`);
console.log('schemas/constitution.schema.json written');
