// The engine's side of `cai bench`: training steps or KV-cached generation of a preset on the
// chosen backend, timed after a warm-up. The CLI runs bench/torch_reference.py on the same
// model in the same invocation and prints the ratio.

import type { ModelConfig } from '../core/model/config';
import { parameterCount, presetConfig } from '../core/model/config';
import { initWeights } from '../core/model/transformer';
import { Rng } from '../core/training/rng';
import type { BackendChoice } from '../protocol/trainer';
import { initializeBackend } from './backend';
import { defaultWorkers } from './engine';
import { ReplicaPool } from './parallel';
import type { LmBatch } from './replica';

export interface BenchOptions {
  mode: 'train' | 'generate';
  preset: string;
  backend: BackendChoice;
  batch: number;
  steps: number;
  newTokens: number;
  context?: number;
  workers?: number;
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
  const config = presetConfig(o.preset);
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
      return { tokensPerSecond: (o.batch * T * o.steps) / seconds, gflops: (tokens * flopsPerToken) / seconds / 1e9, backend: report.backend, workers: pool.size, config, context: T, promptLen, params };
    }
    const prompts = Array.from({ length: o.batch }, () => Array.from({ length: promptLen }, () => rng.nextInt(config.vocabSize)));
    const req = { prompts, maxNewTokens: Math.min(o.newTokens, config.maxPositions - promptLen), temperature: 0, eosTokenIds: [], seed: 1 };
    await pool.generate({ ...req, maxNewTokens: 4 });
    const start = performance.now();
    for (let i = 0; i < o.steps; i++) await pool.generate(req);
    const seconds = (performance.now() - start) / 1000;
    const newTokens = o.batch * req.maxNewTokens * o.steps;
    const processed = o.batch * (promptLen + req.maxNewTokens - 1) * o.steps;
    return { tokensPerSecond: newTokens / seconds, gflops: (2 * params * processed) / seconds / 1e9, backend: report.backend, workers: pool.size, config, context, promptLen, params };
  } finally {
    await pool.dispose();
  }
}
