// Writes the built-in world's datasets (docs/built-in-world.md) as JSONL into examples/world/data/,
// from examples/harmless-helpful.constitution.yaml with seed 1. With --stats, also prints the
// character lengths of a sample of pretraining documents by kind.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConstitutionWorkspace } from '../src/core/constitution/resolve.js';
import { pretrainingCorpus, worldDatasets, type WorldDatasets } from '../src/core/world/index.js';
import { nodeFileHost } from '../src/trainer/fileHost.js';

const root = path.join(__dirname, '..');
const constitutionFile = path.join(root, 'examples', 'harmless-helpful.constitution.yaml');
const outDir = path.join(root, 'examples', 'world', 'data');
const SEED = 1;

const res = new ConstitutionWorkspace(nodeFileHost()).resolve(constitutionFile);
if (!res) throw new Error(`cannot read ${constitutionFile}`);
const err = res.diagnostics.find((d) => d.severity === 'error');
if (err) throw new Error(`${constitutionFile}:${err.range.start.line + 1}: ${err.message}`);

const files: Record<keyof WorldDatasets, string> = {
  redTeam: 'red-team.jsonl',
  helpfulness: 'helpful.jsonl',
  pmp: 'pmp.jsonl',
  evalPairs: 'eval-pairs.jsonl',
  helpfulnessPairs: 'helpful-pairs.jsonl',
  evalPrompts: 'eval-prompts.jsonl',
  hhh: 'hhh.jsonl',
};

const data = worldDatasets(res.constitution, { seed: SEED });
mkdirSync(outDir, { recursive: true });
let total = 0;
for (const [key, file] of Object.entries(files) as [keyof WorldDatasets, string][]) {
  const text = data[key].map((r) => JSON.stringify(r)).join('\n') + '\n';
  writeFileSync(path.join(outDir, file), text);
  total += Buffer.byteLength(text);
  console.log(`${path.relative(root, path.join(outDir, file))}: ${data[key].length} records, ${(Buffer.byteLength(text) / 1024).toFixed(1)} KiB`);
}
console.log(`total ${(total / 1024).toFixed(1)} KiB`);

if (process.argv.includes('--stats')) {
  const docs = pretrainingCorpus(res.constitution, { seed: SEED, count: 20000 });
  const by = new Map<string, number[]>();
  for (const d of docs) {
    const l = by.get(d.kind) ?? [];
    l.push(d.text.length);
    by.set(d.kind, l);
  }
  for (const [kind, ls] of by) {
    ls.sort((a, b) => a - b);
    const mean = ls.reduce((a, b) => a + b, 0) / ls.length;
    console.log(`${kind}: ${ls.length} documents, characters mean ${mean.toFixed(0)}, p95 ${ls[Math.floor(ls.length * 0.95)]}, max ${ls[ls.length - 1]}`);
  }
}
