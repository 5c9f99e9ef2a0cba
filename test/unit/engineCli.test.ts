/**
 * The engine's command-line contract on the built `dist/cli.js`: `cai generate` / `cai score`
 * against the PyTorch reference, `cai train` with its manifest and resume, `cai bench`, and the
 * one-line errors. The jobs run in a forked trainer process (dist/trainer.js).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { HfTokenizer } from '../../src/core/model/tokenizer';

const repoRoot = path.resolve(__dirname, '../..');
const CLI = path.join(repoRoot, 'dist', 'cli.js');
const MODELS = path.join(repoRoot, 'test', 'fixtures', 'models');
const PYTHON = process.env.CAI_PYTHON ?? '/usr/bin/python3';

function cai(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, CAI_BACKEND: 'wasm', ...env }, timeout: 300_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The PyTorch reference, or a skip reason when it cannot run (CI requires it: CAI_REQUIRE_TORCH=1). */
function torch(args: string[]): unknown {
  try {
    return JSON.parse(execFileSync(PYTHON, [path.join(repoRoot, 'test', 'reference', 'roundtrip.py'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (e) {
    if (process.env.CAI_REQUIRE_TORCH) throw e;
    return undefined;
  }
}

function tokenizerOf(name: string): HfTokenizer {
  return HfTokenizer.fromJson(fs.readFileSync(path.join(MODELS, name, 'tokenizer.json'), 'utf8'));
}

describe('cai generate / score', () => {
  for (const name of ['gpt2-tiny', 'llama-tiny']) {
    it(`${name}: greedy generation gives PyTorch's tokens, with per-token log-probs`, (t) => {
      const prompt = 'the cat sat on';
      const r = cai(['generate', '--model', path.join(MODELS, name), '--prompt', prompt, '--max-new-tokens', '8', '--temperature', '0', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { tokens: number[]; text: string; logprobs: number[] };
      assert.equal(out.tokens.length, 8);
      assert.equal(out.logprobs.length, 8);
      assert.ok(out.logprobs.every((x) => x <= 0 && Number.isFinite(x)));
      assert.equal(typeof out.text, 'string');
      const ids = tokenizerOf(name).encode(prompt, { addSpecialTokens: true });
      const ref = torch([path.join(MODELS, name), '--greedy-for', JSON.stringify(ids), '--new-tokens', '8']) as { tokens: number[] } | undefined;
      if (!ref) return t.skip('PyTorch is not available');
      assert.deepEqual(out.tokens, ref.tokens);
    });
  }

  it('score: per-token and total log-probs equal PyTorch log-softmax', (t) => {
    const name = 'llama-tiny';
    const r = cai(['score', '--model', path.join(MODELS, name), '--prompt', 'the cat', '--continuation', ' sat down', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { tokens: number[]; logprobs: number[]; total: number };
    assert.equal(out.tokens.length, out.logprobs.length);
    assert.ok(Math.abs(out.total - out.logprobs.reduce((a, b) => a + b, 0)) < 1e-9);
    const tok = tokenizerOf(name);
    const prompt = tok.encode('the cat', { addSpecialTokens: true });
    assert.deepEqual(out.tokens, tok.encode(' sat down', { addSpecialTokens: false }));
    const ref = torch([path.join(MODELS, name), '--logits-for', JSON.stringify([[...prompt, ...out.tokens]])]) as { logits: number[][][] } | undefined;
    if (!ref) return t.skip('PyTorch is not available');
    out.tokens.forEach((tokenId, j) => {
      const row = ref.logits[0]![prompt.length - 1 + j]!;
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      assert.ok(Math.abs(row[tokenId]! - lse - out.logprobs[j]!) < 1e-4, `token ${j}: ${out.logprobs[j]} vs ${row[tokenId]! - lse}`);
    });
  });

  it('fails with one clear line for a missing model, an unknown preset, a folder without a tokenizer', () => {
    const missing = cai(['generate', '--model', './no/such/model', '--prompt', 'x']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^cai: \.\/no\/such\/model: no such model folder\n$/);
    const preset = cai(['generate', '--model', 'huge', '--prompt', 'x']);
    assert.equal(preset.code, 2);
    assert.match(preset.stderr, /unknown model preset 'huge'/);
    assert.equal(preset.stderr.trim().split('\n').length, 1);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-notok-'));
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(MODELS, 'gpt2-tiny', f), path.join(dir, f));
    const noTok = cai(['score', '--model', dir, '--prompt', 'a', '--continuation', 'b']);
    assert.equal(noTok.code, 2);
    assert.match(noTok.stderr, /tokenizer\.json/);
    const badShape = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-badcfg-'));
    for (const f of ['model.safetensors', 'tokenizer.json']) fs.copyFileSync(path.join(MODELS, 'gpt2-tiny', f), path.join(badShape, f));
    const cfg = JSON.parse(fs.readFileSync(path.join(MODELS, 'gpt2-tiny', 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(badShape, 'config.json'), JSON.stringify({ ...cfg, n_embd: 48, n_head: 4 }));
    const mismatch = cai(['generate', '--model', badShape, '--prompt', 'x']);
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, /model\.safetensors.*tensor '[^']+'/);
  });
});

describe('cai train', () => {
  it('trains a preset, writes a manifest with the backend, saves a model that cai generate loads', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-train-'));
    const data = path.join(dir, 'data.jsonl');
    fs.writeFileSync(data, Array.from({ length: 50 }, (_, i) => JSON.stringify({ text: `example ${i}: be helpful and harmless.` })).join('\n'));
    const r = cai(['train', '--model', 'nano', '--data', data, '--out', path.join(dir, 'run'), '--steps', '4', '--batch-size', '4', '--seq-len', '32', '--checkpoint-every', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { outcome: string; steps: number; finalLoss: number; savedTo: string };
    assert.equal(res.outcome, 'completed');
    assert.equal(res.steps, 4);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'manifest.json'), 'utf8')) as { backend: { backend: string; reason: string; tfjsVersion: string; nodeVersion: string; selfTest: { ok: boolean } } };
    assert.equal(manifest.backend.backend, 'wasm');
    assert.equal(manifest.backend.nodeVersion, process.version);
    assert.ok(manifest.backend.tfjsVersion && manifest.backend.reason && manifest.backend.selfTest.ok);
    assert.ok(fs.existsSync(path.join(dir, 'run', 'checkpoints', 'step-000004', 'COMPLETE')));
    const g = cai(['generate', '--model', res.savedTo, '--prompt', 'example', '--max-new-tokens', '4', '--temperature', '0', '--json']);
    assert.equal(g.code, 0, g.stderr);
    assert.equal((JSON.parse(g.stdout) as { tokens: number[] }).tokens.length, 4);
    // Running again finds the finished checkpoint and does no more steps.
    const again = cai(['train', '--model', 'nano', '--data', data, '--out', path.join(dir, 'run'), '--steps', '4', '--batch-size', '4', '--seq-len', '32', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { steps: number; finalLoss: number }).finalLoss, res.finalLoss);
  });

  it('refuses a bad configuration before training, naming the field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-train-bad-'));
    const data = path.join(dir, 'data.jsonl');
    fs.writeFileSync(data, '{"text": "hi"}\n{"txt": 3}\n');
    const r = cai(['train', '--model', 'nano', '--data', data, '--out', path.join(dir, 'run')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /data\.jsonl:2: field 'text' must be a string/);
    const long = cai(['train', '--model', 'nano', '--data', data, '--out', path.join(dir, 'run'), '--seq-len', '500']);
    assert.equal(long.code, 2);
    assert.match(long.stderr, /seqLen 500/);
  });
});

describe('cai bench', () => {
  it('prints ours, the reference and the ratio as one JSON object', (t) => {
    const r = cai(['bench', 'train', '--preset', 'nano', '--steps', '1', '--batch', '4', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const row = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const k of ['ours_tokens_per_s', 'reference_tokens_per_s', 'ratio', 'backend', 'preset']) assert.ok(k in row, `missing ${k}`);
    assert.equal(row['preset'], 'nano');
    assert.ok((row['ours_tokens_per_s'] as number) > 0);
    if (row['reference_tokens_per_s'] === null) {
      if (process.env.CAI_REQUIRE_TORCH) assert.fail(`the PyTorch reference did not run: ${JSON.stringify(row['reference'])}`);
      return t.skip('PyTorch is not available');
    }
    assert.ok((row['ratio'] as number) > 0);
  });
});

describe('cai bench matmul and the GPU benchmark driver', () => {
  it('times N×N products on both sides and prints TFLOP/s and the ratio', (t) => {
    const r = cai(['bench', 'matmul', '--size', '128', '--steps', '3', '--backend', 'cpu', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const row = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(row['mode'], 'matmul');
    assert.equal(row['size'], 128);
    assert.ok((row['ours_tflops'] as number) > 0);
    if (row['reference_tflops'] === null) {
      if (process.env.CAI_REQUIRE_TORCH) assert.fail(`the PyTorch reference did not run: ${JSON.stringify(row['reference'])}`);
      return t.skip('PyTorch is not available');
    }
    assert.equal((row['reference'] as Record<string, unknown>)['device'], 'cpu');
    assert.ok((row['reference_tflops'] as number) > 0 && (row['ratio'] as number) > 0, JSON.stringify(row));
    assert.ok(Math.abs((row['ratio'] as number) - (row['ours_tflops'] as number) / (row['reference_tflops'] as number)) < 0.05 * (row['ratio'] as number) + 1e-3);
  });

  it('refuses an unknown reference device or preset in one line', () => {
    const device = cai(['bench', 'matmul', '--reference-device', 'tpu']);
    assert.equal(device.code, 2);
    assert.match(device.stderr, /--reference-device must be cpu or cuda \(got 'tpu'\)/);
    const preset = cai(['bench', 'train', '--preset', 'gpt5']);
    assert.equal(preset.code, 2);
    assert.match(preset.stderr, /unknown model preset 'gpt5'.*, or gpt2-small/);
  });

  it('bench/gpu.mjs runs its rows through cai bench, prints the table and writes the rows', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-gpu-bench-'));
    const out = path.join(dir, 'rows.json');
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'bench', 'gpu.mjs'), CLI, out], {
      cwd: repoRoot, encoding: 'utf8', timeout: 300_000,
      env: { ...process.env, QUICK: '1', ONLY: 'matmul', BACKEND: 'wasm', REFERENCE_DEVICE: 'cpu' },
    });
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>[];
    assert.deepEqual(rows.map((x) => x['label']), ['matmul 1024²']);
    assert.equal(rows[0]!['backend'], 'wasm');
    assert.match(r.stdout, /^backend wasm; reference PyTorch .* on cpu$/m);
    assert.match(r.stdout, process.env.CAI_REQUIRE_TORCH || fs.existsSync(PYTHON) ? /^matmul 1024²\s+[\d.]+\s+[\d.]+\s+TFLOP\/s\s+[\d.]+$/m : /^matmul 1024²\s+[\d.]+\s/m);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
