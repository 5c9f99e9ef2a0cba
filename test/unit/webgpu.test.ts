// The WebGPU backend: how `auto` and an explicit choice treat the adapters Dawn finds (no GPU
// needed), and — where a Vulkan driver is present (a GPU, or Mesa's lavapipe in CI) — a small
// model's loss and gradients on webgpu equal to the pure-JS backend's within float32 tolerance.
// Without a driver the device tests skip and say why; CAI_REQUIRE_WEBGPU=1 makes that a failure.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../../src/core/model/config';
import { CausalLM } from '../../src/core/model/transformer';
import type { GpuAdapterInfo } from '../../src/protocol/trainer';
import { AUTO_ORDER, initializeBackend, isSoftwareAdapter, noAdapterReason, probeWebGpu, webgpuRefusal, type WebGpuProbe } from '../../src/trainer/backend';

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
  let s = 4242;
  const normal = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 - 0.5) * 2;
  };
  const model = CausalLM.init(config, normal);
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
