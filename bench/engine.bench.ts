/**
 * The engine against PyTorch on the same machine, in one invocation: `cai bench train` and
 * `cai bench generate` on the built-in preset and the larger `small` preset. Each row is our
 * tokens/s, PyTorch's (at its best: 1 thread, or all cores with OMP_WAIT_POLICY=passive) and the
 * ratio. `--quick` runs the built-in preset only. Prints a table and writes the rows as JSON to
 * bench-results/engine.json.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'dist', 'cli.js');
const quick = process.argv.includes('--quick');
const presets = quick ? ['tiny'] : ['tiny', 'small'];
const rows: Record<string, unknown>[] = [];

for (const preset of presets) {
  for (const mode of ['train', 'generate']) {
    const args = ['bench', mode, '--preset', preset, '--json', ...(preset === 'small' && mode === 'train' ? ['--batch', '8', '--steps', '3'] : [])];
    process.stderr.write(`cai ${args.join(' ')}\n`);
    const out = execFileSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    rows.push(JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>);
  }
}

const cols = ['mode', 'preset', 'backend', 'workers', 'batch', 'ours_tokens_per_s', 'reference_tokens_per_s', 'ratio', 'ours_gflops', 'reference_gflops'];
const table = [cols, ...rows.map((r) => cols.map((c) => String(r[c] ?? '')))];
const widths = cols.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
for (const r of table) console.log(r.map((v, i) => v.padEnd(widths[i]!)).join('  '));
const ref = rows[0]?.['reference'] as Record<string, unknown> | undefined;
console.log(`PyTorch: ${JSON.stringify(ref)}`);
fs.mkdirSync(path.join(root, 'bench-results'), { recursive: true });
fs.writeFileSync(path.join(root, 'bench-results', 'engine.json'), `${JSON.stringify(rows, null, 2)}\n`);
