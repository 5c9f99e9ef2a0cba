// The engine's side of `cai bench`: training steps or KV-cached generation of a preset on the
// chosen backend, timed after a warm-up. The CLI runs bench/torch_reference.py on the same
// model in the same invocation and prints the ratio.

import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../core/model/config';
import { parameterCount, presetConfig } from '../core/model/config';
import { initWeights } from '../core/model/transformer';
import { Rng } from '../core/training/rng';
import type { BackendChoice, GpuAdapterInfo } from '../protocol/trainer';
import { initializeBackend } from './backend';
import { defaultWorkers } from './engine';
import { ReplicaPool } from './parallel';
import type { LmBatch } from './replica';

export interface BenchOptions {
  mode: 'train' | 'generate' | 'matmul';
  preset: string;
  backend: BackendChoice;
  batch: number;
  steps: number;
  newTokens: number;
  context?: number;
  workers?: number;
  /** matmul: the side N of the square product. */
  size?: number;
}

export interface BenchResult {
  tokensPerSecond: number;
  gflops: number;
  backend: string;
  workers: number;
  config: ModelConfig;
  context: number;
  promptLen: number;
  params: number;
  /** matmul: achieved TFLOP/s of an N×N by N×N float32 product. */
  tflops?: number;
  /** The WebGPU adapter, when the backend is webgpu. */
  adapter?: GpuAdapterInfo;
}

/**
 * Model sizes for benchmarks only, besides the presets: `gpt2-small` has GPT-2 small's shape
 * (124 M parameters: 12 layers × 768 wide, 12 heads, vocabulary 50257, context 1024).
 */
export const BENCH_CONFIGS: Readonly<Record<string, ModelConfig>> = {
  'gpt2-small': { arch: 'gpt2', vocabSize: 50257, dModel: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, headDim: 64, dFf: 3072, maxPositions: 1024, normEps: 1e-5, ropeTheta: 10000, activation: 'gelu_new', tieEmbeddings: true, qkvBias: true, projBias: true, eosTokenIds: [] },
};

export function benchConfig(name: string): ModelConfig {
  return BENCH_CONFIGS[name] ?? presetConfig(name);
}

/** Float32 N×N matrix products on the current backend, timed after warm-up: TFLOP/s. */
async function matmulTflops(n: number, steps: number): Promise<number> {
  const rng = new Rng(3);
  const a = tf.tensor2d(Float32Array.from({ length: n * n }, () => rng.normal()), [n, n]);
  const b = tf.tensor2d(Float32Array.from({ length: n * n }, () => rng.normal()), [n, n]);
  try {
    const run = async (k: number): Promise<void> => {
      const outs: tf.Tensor[] = [];
      for (let i = 0; i < k; i++) outs.push(tf.matMul(a, b));
      // Reading the last product waits for every product queued before it.
      await outs[outs.length - 1]!.data();
      tf.dispose(outs);
    };
    await run(2);
    const start = performance.now();
    await run(steps);
    return (2 * n * n * n * steps) / ((performance.now() - start) / 1000) / 1e12;
  } finally {
    tf.dispose([a, b]);
  }
}

/** Parameters a token's forward pass multiplies through: everything but lookups (positions; an untied input embedding). */
function matmulParams(c: ModelConfig): number {
  let n = parameterCount(c);
  if (c.arch === 'gpt2') n -= c.maxPositions * c.dModel;
  if (!c.tieEmbeddings) n -= c.vocabSize * c.dModel;
  return n;
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const report = await initializeBackend({ backend: o.backend });
  if (o.mode === 'matmul') {
    const n = o.size ?? 2048;
    const tflops = await matmulTflops(n, o.steps);
    return { tokensPerSecond: 0, gflops: tflops * 1000, tflops, backend: report.backend, ...(report.adapter ? { adapter: report.adapter } : {}), workers: 1, config: benchConfig(o.preset), context: 0, promptLen: 0, params: 0 };
  }
  const config = benchConfig(o.preset);
  const context = Math.min(o.context ?? config.maxPositions, config.maxPositions);
  const promptLen = 16;
  const workers = Math.min(o.workers ?? defaultWorkers(), o.batch);
  const rng = new Rng(1);
  const weights = initWeights(config, () => rng.normal());
  const pool = await ReplicaPool.create({ config, weights, optimizer: { lr: 3e-4, weightDecay: 0.01 } }, { workers, backend: report.backend });
  const params = matmulParams(config);
  try {
    if (o.mode === 'train') {
      const T = context;
      const batch = (): LmBatch => ({ ids: Int32Array.from({ length: o.batch * T }, () => rng.nextInt(config.vocabSize)), rows: o.batch, cols: T });
      for (let i = 0; i < 2; i++) await pool.trainStep([batch()], 3e-4, 1, i);
      const start = performance.now();
      for (let i = 0; i < o.steps; i++) await pool.trainStep([batch()], 3e-4, 1, i + 2);
      const seconds = (performance.now() - start) / 1000;
      const tokens = o.batch * (T - 1) * o.steps;
      const flopsPerToken = 6 * params + 12 * config.nLayers * (T - 1) * config.dModel;
      return { tokensPerSecond: (o.batch * T * o.steps) / seconds, gflops: (tokens * flopsPerToken) / seconds / 1e9, backend: report.backend, ...(report.adapter ? { adapter: report.adapter } : {}), workers: pool.size, config, context: T, promptLen, params };
    }
    const prompts = Array.from({ length: o.batch }, () => Array.from({ length: promptLen }, () => rng.nextInt(config.vocabSize)));
    const req = { prompts, maxNewTokens: Math.min(o.newTokens, config.maxPositions - promptLen), temperature: 0, eosTokenIds: [], seed: 1 };
    await pool.generate({ ...req, maxNewTokens: 4 });
    const start = performance.now();
    for (let i = 0; i < o.steps; i++) await pool.generate(req);
    const seconds = (performance.now() - start) / 1000;
    const newTokens = o.batch * req.maxNewTokens * o.steps;
    const processed = o.batch * (promptLen + req.maxNewTokens - 1) * o.steps;
    return { tokensPerSecond: newTokens / seconds, gflops: (2 * params * processed) / seconds / 1e9, backend: report.backend, ...(report.adapter ? { adapter: report.adapter } : {}), workers: pool.size, config, context, promptLen, params };
  } finally {
    await pool.dispose();
  }
}
