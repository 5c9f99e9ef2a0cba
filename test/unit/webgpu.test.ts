// The WebGPU backend: how `auto` and an explicit choice treat the adapters Dawn finds (no GPU
// needed), and — where a Vulkan driver is present (a GPU, or Mesa's lavapipe in CI) — a small
// model's loss and gradients on webgpu equal to the pure-JS backend's within float32 tolerance.
// Without a driver the device tests skip and say why; CAI_REQUIRE_WEBGPU=1 makes that a failure.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../../src/core/model/config';
import { CausalLM, initWeights } from '../../src/core/model/transformer';
import type { PairBatch } from '../../src/core/training/preference';
import type { GpuAdapterInfo } from '../../src/protocol/trainer';
import { fixedUniform } from '../../src/core/training/rng';
import { Replica, type TrainBatch } from '../../src/trainer/replica';
import { AUTO_ORDER, initializeBackend, isSoftwareAdapter, noAdapterReason, probeWebGpu, webgpuRefusal, type WebGpuProbe } from '../../src/trainer/backend';

const CLI = path.resolve(__dirname, '../../dist/cli.js');
const LAVAPIPE: GpuAdapterInfo = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1', software: true };
const HARDWARE: GpuAdapterInfo = { vendor: 'nvidia', architecture: 'ada', device: '', description: 'NVIDIA GeForce RTX 4090', software: false };
const fake = (probe: WebGpuProbe) => ({ probeWebGpu: async (): Promise<WebGpuProbe> => probe });

describe('webgpu backend selection', () => {
  it('tells software adapters from GPUs', () => {
    assert.equal(isSoftwareAdapter({ vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25.0.7' }), true);
    assert.equal(isSoftwareAdapter({ vendor: 'google', architecture: '', description: 'SwiftShader Device (Subzero)' }), true);
    assert.equal(isSoftwareAdapter({ vendor: 'x', architecture: 'y', description: 'z', isFallbackAdapter: true }), true);
    assert.equal(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'ada', description: 'NVIDIA GeForce RTX 4090' }), false);
    assert.equal(isSoftwareAdapter({ vendor: 'amd', architecture: 'rdna-3', description: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' }), false);
  });

  it('auto never takes a software adapter; an explicit webgpu does; a GPU is taken by both', () => {
    assert.match(webgpuRefusal(LAVAPIPE, 'auto') ?? '', /software one \(llvmpipe: Mesa .*\), slower than WASM; set the backend to webgpu/);
    assert.equal(webgpuRefusal(LAVAPIPE, 'webgpu'), undefined);
    assert.equal(webgpuRefusal(HARDWARE, 'auto'), undefined);
    assert.equal(webgpuRefusal(HARDWARE, 'webgpu'), undefined);
    assert.deepEqual(AUTO_ORDER, ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu']);
  });

  it('auto passes over a software adapter to WASM (or a native backend) and says why', async () => {
    const report = await initializeBackend({ backend: 'auto' }, fake({ adapter: LAVAPIPE }));
    assert.notEqual(report.backend, 'webgpu');
    assert.equal(report.adapter, undefined);
    const f = report.fallbacks.find((x) => x.backend === 'webgpu');
    assert.match(f?.error ?? '', /software one/);
    assert.match(report.reason, /webgpu unavailable \(the only WebGPU adapter is a software one/);
  });

  it('a missing Vulkan loader or driver is one clear line and a fallback', async () => {
    const noLoader = noAdapterReason('linux', false);
    const noDriver = noAdapterReason('linux', true);
    assert.equal(noLoader, 'no WebGPU adapter: the Vulkan loader libvulkan.so.1 is missing (install libvulkan1 and the GPU\'s Vulkan driver)');
    assert.match(noDriver, /^no WebGPU adapter: no usable Vulkan driver/);
    for (const line of [noLoader, noDriver, noAdapterReason('win32', false)]) assert.doesNotMatch(line, /\n/);
    const auto = await initializeBackend({ backend: 'auto' }, fake({ error: noLoader }));
    assert.notEqual(auto.backend, 'webgpu');
    assert.equal(auto.fallbacks.find((x) => x.backend === 'webgpu')?.error, noLoader);
    await assert.rejects(initializeBackend({ backend: 'webgpu' }, fake({ error: noDriver })), (e: Error) => e.message === `no usable backend for 'webgpu': webgpu: ${noDriver}`);
    await assert.rejects(initializeBackend({ backend: 'webgpu' }, fake({ error: 'webgpu is not installed (npm install webgpu)' })), /webgpu: webgpu is not installed \(npm install webgpu\)$/);
  });
});

/** The device tests' adapter, or why they cannot run (a failure under CAI_REQUIRE_WEBGPU=1). */
async function deviceOrSkip(t: { skip(msg: string): void }): Promise<GpuAdapterInfo | undefined> {
  const probe = await probeWebGpu();
  if ('adapter' in probe) return probe.adapter;
  if (process.env['CAI_REQUIRE_WEBGPU'] === '1') assert.fail(`CAI_REQUIRE_WEBGPU=1 but ${probe.error}`);
  t.skip(`${probe.error} (set CAI_REQUIRE_WEBGPU=1 to make this a failure)`);
  return undefined;
}

const TINY: ModelConfig = { arch: 'llama', vocabSize: 29, dModel: 16, nLayers: 1, nHeads: 4, nKvHeads: 2, headDim: 4, dFf: 24, maxPositions: 16, normEps: 1e-6, ropeTheta: 10000, activation: 'silu', tieEmbeddings: false, qkvBias: true, projBias: false, eosTokenIds: [] };

/** Loss and every gradient of a tiny model with fixed weights, on the current backend (read asynchronously). */
async function lossAndGrads(config: ModelConfig): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const model = CausalLM.init(config, fixedUniform(4242, 2));
  model.embeddingGrad = tf.getKernel('UnsortedSegmentSum', tf.getBackend()) ? 'native' : 'host';
  try {
    const ids = tf.tensor2d(Int32Array.from({ length: 2 * 7 }, (_, i) => (i * 5 + 1) % config.vocabSize), [2, 7], 'int32');
    const vars = [...model.params.values()];
    const { value, grads } = tf.variableGrads(() => model.lmLoss(ids), vars);
    const out = { loss: (await value.data())[0]!, grads: new Map<string, Float32Array>() };
    for (const [k, g] of Object.entries(grads)) out.grads.set(k.replace(/#\d+$/, ''), (await g.data()) as Float32Array);
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    ids.dispose();
    return out;
  } finally {
    model.dispose();
  }
}

describe('webgpu backend on a device', () => {
  it('explicit webgpu initializes, passes the self-test and reports its adapter', async (t) => {
    const adapter = await deviceOrSkip(t);
    if (!adapter) return;
    const report = await initializeBackend({ backend: 'webgpu' });
    assert.equal(report.backend, 'webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    assert.deepEqual(report.adapter, adapter);
    assert.ok(report.selfTest.ok);
    assert.match(report.reason, /^requested webgpu on .+ \((software|hardware) adapter\)$/);
    t.diagnostic(`adapter ${JSON.stringify(adapter)}; self-test ${report.selfTest.seconds.toFixed(2)} s`);
    if (adapter.software) {
      const auto = await initializeBackend({ backend: 'auto' });
      assert.notEqual(auto.backend, 'webgpu');
    }
  });

  it('a small model\'s loss and gradients on webgpu equal the pure-JS backend\'s within float32 tolerance', async (t) => {
    if (!(await deviceOrSkip(t))) return;
    await initializeBackend({ backend: 'cpu' });
    const want = await lossAndGrads(TINY);
    await initializeBackend({ backend: 'webgpu' });
    const got = await lossAndGrads(TINY);
    await initializeBackend({ backend: 'cpu' });
    assert.ok(Math.abs(got.loss - want.loss) <= 1e-5 * Math.max(1, Math.abs(want.loss)), `loss ${got.loss} vs ${want.loss}`);
    assert.deepEqual([...got.grads.keys()].sort(), [...want.grads.keys()].sort());
    let worst = 0;
    for (const [name, w] of want.grads) {
      const g = got.grads.get(name)!;
      const scale = Math.max(1e-3, ...Array.from(w, Math.abs));
      for (let i = 0; i < w.length; i++) {
        const err = Math.abs(g[i]! - w[i]!) / scale;
        worst = Math.max(worst, err);
        assert.ok(err <= 1e-4, `${name}[${i}]: ${g[i]} vs ${w[i]}`);
      }
    }
    t.diagnostic(`loss ${got.loss} vs ${want.loss} (|Δ| ${Math.abs(got.loss - want.loss).toExponential(2)}); worst gradient error ${worst.toExponential(2)} of each tensor's largest value`);
  });
});

const GPT2_NANO: ModelConfig = { arch: 'gpt2', vocabSize: 37, dModel: 16, nLayers: 2, nHeads: 2, nKvHeads: 2, headDim: 8, dFf: 64, maxPositions: 24, normEps: 1e-5, ropeTheta: 10000, activation: 'gelu_new', tieEmbeddings: true, qkvBias: true, projBias: true, eosTokenIds: [] };

/**
 * Every engine path a run takes, on the current backend, as named lists of numbers: optimizer
 * steps on language-model (two micro-batches), preference (with the LM term), PPO policy and
 * value batches; then per-token statistics, values, rewards and margins; greedy and sampled
 * KV-cached generation of left-padded prompts; scoring; the exported weights and optimizer state.
 */
async function enginePaths(config: ModelConfig): Promise<Map<string, number[]>> {
  const normal = fixedUniform(977, 2);
  const V = config.vocabSize;
  const tok = (i: number): number => (i * 7 + 3) % V;
  const replica = new Replica({ config, weights: initWeights(config, normal, ['reward', 'value']), heads: ['reward', 'value'], optimizer: { lr: 1e-2, weightDecay: 0.01 } });
  const out = new Map<string, number[]>();
  const put = (name: string, r: { loss: number; gradNorm: number; margins?: number[]; stats?: Record<string, number> }): void => {
    out.set(`${name}.loss`, [r.loss, r.gradNorm]);
    if (r.margins) out.set(`${name}.margins`, r.margins);
    for (const [k, v] of Object.entries(r.stats ?? {})) out.set(`${name}.${k}`, [v]);
  };
  try {
    const cols = 6;
    const rows = 4;
    const ids = Int32Array.from({ length: rows * cols }, (_, i) => tok(i));
    const mask = Float32Array.from({ length: rows * (cols - 1) }, (_, i) => (i % (cols - 1) >= 2 ? 1 : 0));
    const lm = (k: number): TrainBatch => ({ kind: 'lm', batch: { ids: Int32Array.from(ids, (x) => (x + k) % V), rows, cols } });
    put('lm', await replica.step([lm(0), lm(1)], 1e-2, 1, 0));
    const pair: PairBatch = { ids, rows, cols, lengths: Int32Array.from([6, 4, 5, 6]), labels: Float32Array.from([0.8, 0.3]), lmWeight: 0.5 };
    put('pm', await replica.step([{ kind: 'pm', batch: pair }], 1e-2, 1, 1));
    const ppoRows = { ids, rows, cols, mask };
    const stats = await replica.tokenStats(ppoRows, 0.7);
    out.set('tokenStats.logprobs', [...stats.logprobs]);
    out.set('tokenStats.entropy', [...stats.entropy]);
    const values = await replica.values(ppoRows);
    out.set('values', [...values]);
    const advantages = Float32Array.from(mask, (m, i) => m * Math.sin(i));
    put('ppo', await replica.step([{ kind: 'ppo', batch: { ...ppoRows, old: Float32Array.from(stats.logprobs, (x) => x - 0.05), advantages, cliprange: 0.2, norm: 12, temperature: 0.7 } }], 1e-2, 1, 2));
    put('value', await replica.step([{ kind: 'value', batch: { ...ppoRows, old: values, returns: Float32Array.from(mask, (m, i) => m * Math.cos(i)), cliprange: 0.2, norm: 12, coef: 0.1 } }], 1e-2, 1, 3));
    out.set('rewards', await replica.rewards({ ...pair, labels: new Float32Array(0) }));
    out.set('margins', await replica.margins(pair));
    const prompts = [[tok(1), tok(2), tok(3), tok(4)], [tok(5)], [tok(6), tok(7)]];
    const greedy = await replica.generate({ prompts, maxNewTokens: 6, temperature: 0, eosTokenIds: [], seed: 1 });
    greedy.forEach((g, i) => {
      out.set(`greedy.${i}.tokens`, g.tokens);
      out.set(`greedy.${i}.logprobs`, g.logprobs);
    });
    const sampled = await replica.generate({ prompts, maxNewTokens: 6, temperature: 1, topK: 8, topP: 0.95, eosTokenIds: [], seed: 7 });
    sampled.forEach((g, i) => out.set(`sampled.${i}.tokens`, g.tokens));
    // Plain temperature sampling: picked on the device on webgpu, on the host on the CPU.
    const plain = await replica.generate({ prompts, maxNewTokens: 6, temperature: 0.9, eosTokenIds: [tok(9)], seed: 11 });
    plain.forEach((g, i) => {
      out.set(`plain.${i}.tokens`, g.tokens);
      out.set(`plain.${i}.logprobs`, g.logprobs);
    });
    const scored = await replica.score(prompts[0]!, greedy.map((g) => g.tokens));
    scored.forEach((c, i) => out.set(`score.${i}`, c.logprobs));
    for (const [name, t] of await replica.exportWeights()) out.set(`weight.${name}`, [...t.data]);
    const opt = await replica.optimizerState();
    for (const [name, t] of opt!.m) out.set(`adam.m.${name}`, [...t.data]);
    out.set('adam.step', [opt!.step]);
  } finally {
    replica.dispose();
  }
  return out;
}

describe('every engine path on webgpu', () => {
  for (const [label, config] of [['GPT-2', GPT2_NANO], ['Llama (grouped-query)', TINY]] as const) {
    it(`${label}: training steps of every stage, generation, scoring and read-backs equal the pure-JS backend's`, async (t) => {
      if (!(await deviceOrSkip(t))) return;
      await initializeBackend({ backend: 'cpu' });
      const want = await enginePaths(config);
      await initializeBackend({ backend: 'webgpu' });
      const before = tf.memory().numTensors;
      const got = await enginePaths(config);
      const leaked = tf.memory().numTensors - before;
      await initializeBackend({ backend: 'cpu' });
      assert.equal(leaked, 0, 'no tensors left behind on the device');
      assert.deepEqual([...got.keys()], [...want.keys()]);
      let worst = 0;
      let worstName = '';
      for (const [name, w] of want) {
        const g = got.get(name)!;
        assert.equal(g.length, w.length, name);
        if (name.endsWith('.tokens')) {
          assert.deepEqual(g, w, `${name}: the same tokens`);
          continue;
        }
        if (name.includes('clipfrac')) {
          // A count of tokens where the clipped loss exceeds the plain one: an unclipped token
          // compares old + (v − old) with v, equal up to rounding, so one token may flip either way.
          assert.ok(Math.abs(g[0]! - w[0]!) <= 1 / 12 + 1e-6, `${name}: ${g[0]} on webgpu vs ${w[0]}`);
          continue;
        }
        const scale = Math.max(1, ...w.map(Math.abs));
        for (let i = 0; i < w.length; i++) {
          const err = Math.abs(g[i]! - w[i]!) / scale;
          if (err > worst) [worst, worstName] = [err, name];
          assert.ok(err <= 2e-4, `${name}[${i}]: ${g[i]} on webgpu vs ${w[i]}`);
        }
      }
      t.diagnostic(`${want.size} outputs; worst relative difference ${worst.toExponential(2)} (${worstName})`);
    });
  }
});

describe('cai on webgpu', () => {
  it('cai train and cai generate with --backend webgpu give the CPU backend\'s loss and tokens, and the manifest names the adapter', async (t) => {
    const adapter = await deviceOrSkip(t);
    if (!adapter) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-webgpu-'));
    const data = path.join(dir, 'data.jsonl');
    fs.writeFileSync(data, Array.from({ length: 32 }, (_, i) => JSON.stringify({ text: `Sample ${i}: the quick brown fox jumps over the lazy dog. `.repeat(2) })).join('\n'));
    const cai = (args: string[]): string => {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, CAI_BACKEND: '' } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const train = (backend: string): { finalLoss: number } => JSON.parse(cai(['train', '--model', 'nano', '--data', data, '--out', path.join(dir, backend), '--steps', '6', '--batch-size', '4', '--seq-len', '48', '--accumulate', '2', '--seed', '3', '--backend', backend, '--json'])) as { finalLoss: number };
    const onCpu = train('cpu');
    const onGpu = train('webgpu');
    assert.ok(Math.abs(onGpu.finalLoss - onCpu.finalLoss) <= 1e-4 * Math.abs(onCpu.finalLoss), `loss ${onGpu.finalLoss} on webgpu vs ${onCpu.finalLoss}`);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'webgpu', 'manifest.json'), 'utf8')) as { backend: { backend: string; adapter?: unknown } };
    assert.equal(manifest.backend.backend, 'webgpu');
    assert.deepEqual(manifest.backend.adapter, adapter);
    const generate = (backend: string): string => cai(['generate', '--model', path.join(dir, backend, 'model'), '--prompt', 'Sample 7: the quick', '--max-new-tokens', '12', '--temperature', '0', '--backend', backend]);
    assert.equal(generate('webgpu'), generate('cpu'));
    t.diagnostic(`final loss ${onGpu.finalLoss} on webgpu, ${onCpu.finalLoss} on cpu`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
