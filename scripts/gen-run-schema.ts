// Writes schemas/run.schema.json from the run configuration's description in src/core/runs/config.ts.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runConfigJsonSchema } from '../src/core/runs/config.js';

const target = path.join(__dirname, '..', 'schemas', 'run.schema.json');
writeFileSync(target, `${JSON.stringify(runConfigJsonSchema(), null, 2)}\n`);
console.log('schemas/run.schema.json written');
