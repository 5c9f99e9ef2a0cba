// Driver of the GPU benchmark (bench/gpu.sh): runs `cai bench` on the webgpu backend against
// PyTorch CUDA for each row, prints a table of both sides and their ratio, and writes the rows as
// JSON. Plain JavaScript, so it runs from the bundle without a build.
//   node bench/gpu.mjs CLI.js OUT.json     (REFERENCE_DEVICE=cpu, BACKEND=… and ONLY=… for a dry run)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

const [cli, outFile] = process.argv.slice(2);
if (!cli || !outFile) throw new Error('usage: node bench/gpu.mjs CLI.js OUT.json');
const device = process.env.REFERENCE_DEVICE ?? 'cuda';
const backend = process.env.BACKEND ?? 'webgpu';
const quick = process.env.QUICK === '1';

const runs = [
  ...(quick ? [1024] : [1024, 2048, 4096]).map((n) => ({ label: `matmul ${n}²`, args: ['matmul', '--size', String(n), '--steps', '20'] })),
  { label: 'train builtin', args: ['train', '--preset', 'builtin', '--batch', '16', '--context', '256', '--steps', '5'] },
  { label: 'generate builtin', args: ['generate', '--preset', 'builtin', '--batch', '16', '--new-tokens', '64', '--steps', '3'] },
  ...(quick ? [] : [
    { label: 'train gpt2-small', args: ['train', '--preset', 'gpt2-small', '--batch', '8', '--context', '512', '--steps', '3'] },
    { label: 'generate gpt2-small', args: ['generate', '--preset', 'gpt2-small', '--batch', '8', '--new-tokens', '64', '--steps', '2'] },
  ]),
];

// ONLY=matmul,generate keeps the rows whose label contains one of the words (dry runs).
const only = process.env.ONLY ? process.env.ONLY.split(',') : undefined;
const rows = [];
for (const r of runs.filter((x) => !only || only.some((w) => x.label.includes(w)))) {
  const args = ['bench', ...r.args, '--backend', backend, '--reference-device', device, '--json'];
  process.stderr.write(`cai ${args.join(' ')}\n`);
  const started = Date.now();
  try {
    const out = execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
    rows.push({ label: r.label, seconds: (Date.now() - started) / 1000, ...JSON.parse(out.trim().split('\n').pop()) });
  } catch (e) {
    const why = String(e.stderr ?? e.message).trim().split('\n').filter((l) => !/^( - |validation|Warning)/.test(l)).slice(-3).join(' | ');
    rows.push({ label: r.label, error: why });
  }
  fs.writeFileSync(outFile, `${JSON.stringify(rows, null, 2)}\n`);
}

const unit = (r) => (r.mode === 'matmul' ? 'TFLOP/s' : 'tokens/s');
const ours = (r) => (r.mode === 'matmul' ? r.ours_tflops : r.ours_tokens_per_s);
const theirs = (r) => (r.mode === 'matmul' ? r.reference_tflops : r.reference_tokens_per_s);
const table = [['', 'ours', `PyTorch ${device}`, 'unit', 'ratio']];
for (const r of rows) table.push(r.error ? [r.label, 'error', '', '', r.error] : [r.label, String(ours(r)), String(theirs(r) ?? r.reference?.error ?? ''), unit(r), String(r.ratio ?? '')]);
const widths = table[0].map((_, i) => Math.max(...table.map((t) => t[i].length)));
const first = rows.find((r) => r.adapter);
console.log(`backend ${backend}${first ? ` on ${first.adapter.description || first.adapter.device} (${first.adapter.vendor}, ${first.adapter.software ? 'software' : 'hardware'})` : ''}; reference PyTorch ${rows.find((r) => r.reference?.torch_version)?.reference.torch_version ?? '?'} on ${rows.find((r) => r.reference?.device_name)?.reference.device_name ?? device}`);
for (const t of table) console.log(t.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  '));
console.log(`rows: ${outFile}`);
process.exitCode = rows.some((r) => r.error) ? 1 : 0;
