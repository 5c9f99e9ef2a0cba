// One copy of a model and its optimizer on the current backend. The engine runs one replica in
// its own thread, or one per worker thread (parallel.ts), each on a share of the batch; every
// replica applies the same averaged gradient, so all stay identical.

import * as tf from '@tensorflow/tfjs-core';
import type { HeadName, ModelConfig, WeightMap } from '../core/model/config';
import { CausalLM } from '../core/model/transformer';
import { generate, scoreContinuations, type ContinuationScore, type Generation } from '../core/model/generate';
import { AdamW, type AdamWState } from '../core/training/optimizer';
import { clipScale } from '../core/training/clip';
import { NonFiniteError } from '../core/training/guard';
import { Rng } from '../core/training/rng';
import { trainStep } from '../core/training/step';
import { betterRows, preferenceLoss, rewardsAtLast, type PairBatch } from '../core/training/preference';
import { policyLoss, scaledTokenLogprobs, stateValues, valueLoss, type PolicyBatch, type PpoRows, type ValueBatch } from '../core/training/ppo';
import { embeddingGradMode, samplesOnDevice } from './backend';

export interface ReplicaInit {
  config: ModelConfig;
  weights: WeightMap;
  heads?: HeadName[];
  optimizer?: { lr: number; weightDecay: number; beta1?: number; beta2?: number; eps?: number };
}

/**
 * What one training step works on. `ppo` and `value` batches carry their own normaliser (the
 * minibatch's response-token count), so shares of them are not rescaled by row count.
 */
export type TrainBatch = { kind: 'lm'; batch: LmBatch } | { kind: 'pm'; batch: PairBatch } | { kind: 'ppo'; batch: PolicyBatch } | { kind: 'value'; batch: ValueBatch };

/** Per-token statistics of right-padded rows under a policy: [rows·(cols−1)] each. */
export interface TokenStats {
  logprobs: Float32Array;
  entropy: Float32Array;
}

/** Token batch for language-model loss: [rows, cols] ids, with an optional loss mask [rows, cols-1]. */
export interface LmBatch {
  ids: Int32Array;
  rows: number;
  cols: number;
  lossMask?: Float32Array;
}

export interface GenerateRequest {
  prompts: number[][];
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  eosTokenIds: number[];
  seed: number;
}

/** Parameter names in a fixed order, and where each starts in a flat gradient buffer. */
export interface FlatLayout {
  names: string[];
  offsets: number[];
  sizes: number[];
  total: number;
}

export function flatLayout(model: CausalLM): FlatLayout {
  const names = [...model.params.keys()].sort();
  const offsets: number[] = [];
  const sizes: number[] = [];
  let total = 0;
  for (const n of names) {
    const size = model.params.get(n)!.size;
    offsets.push(total);
    sizes.push(size);
    total += size;
  }
  return { names, offsets, sizes, total };
}

export class Replica {
  readonly model: CausalLM;
  readonly layout: FlatLayout;
  private optimizer: AdamW | undefined;

  constructor(init: ReplicaInit) {
    this.model = CausalLM.fromWeights(init.config, init.weights);
    this.model.embeddingGrad = embeddingGradMode();
    const rng = new Rng(0);
    for (const h of init.heads ?? []) this.model.addHead(h, () => rng.normal(), init.weights);
    this.layout = flatLayout(this.model);
    if (init.optimizer) this.optimizer = new AdamW(this.model.params, init.optimizer);
  }

  /**
   * The mean loss of a batch. Preference batches hand their reward margins to `keep`, and PPO,
   * value and LM-regularised preference batches their diagnostics; those tensors outlive the
   * gradient's scope and belong to the caller.
   */
  private loss(batch: TrainBatch, keep: { margins?: tf.Tensor; stats?: Record<string, tf.Scalar> }): tf.Scalar {
    if (batch.kind === 'ppo' || batch.kind === 'value') {
      const r = batch.kind === 'ppo' ? policyLoss(this.model, batch.batch) : valueLoss(this.model, batch.batch);
      keep.stats = Object.fromEntries(Object.entries(r.stats).map(([k, v]) => [k, tf.keep(v)]));
      return r.loss;
    }
    if (batch.kind === 'lm') {
      const b = batch.batch;
      const ids = tf.tensor2d(b.ids, [b.rows, b.cols], 'int32');
      const mask = b.lossMask ? tf.tensor2d(b.lossMask, [b.rows, b.cols - 1]) : undefined;
      return this.model.lmLoss(ids, mask);
    }
    const r = preferenceLoss(rewardsAtLast(this.model, batch.batch), tf.tensor1d(batch.batch.labels));
    keep.margins = tf.keep(r.margins);
    const w = batch.batch.lmWeight ?? 0;
    if (w > 0 && batch.batch.cols > 1) {
      const better = betterRows(batch.batch);
      const lm = this.model.lmLoss(tf.tensor2d(better.ids, [better.rows, better.cols], 'int32'), tf.tensor2d(better.lossMask, [better.rows, better.cols - 1]));
      keep.stats = { lm_loss: tf.keep(lm) };
      return tf.add(r.loss, tf.mul(w, lm)) as tf.Scalar;
    }
    return r.loss;
  }

  /**
   * One optimizer step of this replica alone, with everything on the device: the mean gradient of
   * `batches` (micro-batches of equal weight), the global norm, the NaN/Inf guard, clipping
   * (`clipNorm` 0: none) and AdamW. One read per step brings back the loss, the norm, and the
   * preference margins and diagnostics that are logged.
   */
  async step(batches: TrainBatch[], lr: number, clipNorm: number, step: number, poison = false): Promise<{ loss: number; gradNorm: number; margins?: number[]; stats?: Record<string, number> }> {
    const opt = this.optimizer;
    if (!opt) throw new Error('this replica has no optimizer');
    const kept = batches.map(() => ({}) as { margins?: tf.Tensor; stats?: Record<string, tf.Scalar> });
    const keptTensors = (): tf.Tensor[] => kept.flatMap((k) => [...(k.margins ? [k.margins] : []), ...Object.values(k.stats ?? {})]);
    try {
      const r = await trainStep({
        params: this.model.params,
        optimizer: opt,
        lr,
        ...(clipNorm > 0 ? { clipNorm } : {}),
        accumulate: batches.length,
        lossFn: () => this.loss(batches[0]!, kept[0]!),
        microLoss: (i) => this.loss(batches[i]!, kept[i]!),
        step,
        poison,
        readAlso: keptTensors,
      });
      const margins: number[] = [];
      const stats: Record<string, number> = {};
      let at = 0;
      for (const k of kept) {
        if (k.margins) margins.push(...r.also[at++]!);
        for (const name of Object.keys(k.stats ?? {})) stats[name] = (stats[name] ?? 0) + r.also[at++]![0]! / batches.length;
      }
      return { loss: r.loss, gradNorm: r.gradNorm, ...(margins.length ? { margins } : {}), ...(Object.keys(stats).length ? { stats } : {}) };
    } finally {
      for (const t of keptTensors()) t.dispose();
    }
  }

  /**
   * Mean loss of a batch and its gradient times `scale`, written into `out` (flat layout), or
   * added to it when `add` is set (gradient accumulation over micro-batches): the worker-thread
   * path, where replicas meet in shared memory. Everything comes back in one read. Language-model
   * batches return the loss; preference batches also return each pair's reward margin.
   */
  async gradients(batch: TrainBatch, out: Float32Array, scale = 1, add = false): Promise<{ loss: number; margins?: number[]; stats?: Record<string, number> }> {
    const vars = this.layout.names.map((n) => this.model.params.get(n)!);
    const keep: { margins?: tf.Tensor; stats?: Record<string, tf.Scalar> } = {};
    let marginCount = 0;
    let statNames: string[] = [];
    const packed = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => this.loss(batch, keep), vars);
      const head: tf.Tensor[] = [tf.reshape(value, [1])];
      if (keep.margins) {
        marginCount = keep.margins.size;
        head.push(tf.reshape(keep.margins, [-1]));
      }
      statNames = Object.keys(keep.stats ?? {});
      for (const n of statNames) head.push(tf.reshape(keep.stats![n]!, [1]));
      // A parameter the loss does not reach gets a zero gradient.
      const flat = vars.map((v, i) => (grads[v.name] ? tf.reshape(grads[v.name]!, [-1]) : tf.zeros([this.layout.sizes[i]!])));
      return tf.concat([...head, ...flat]);
    });
    keep.margins?.dispose();
    for (const v of Object.values(keep.stats ?? {})) v.dispose();
    let host: Float32Array;
    try {
      host = (await packed.data()) as Float32Array;
    } finally {
      packed.dispose();
    }
    const base = 1 + marginCount + statNames.length;
    const data = host.subarray(base);
    if (add) for (let j = 0; j < data.length; j++) out[j]! += data[j]! * scale;
    else if (scale === 1) out.set(data);
    else for (let j = 0; j < data.length; j++) out[j] = data[j]! * scale;
    const margins = keep.margins ? Array.from(host.subarray(1, 1 + marginCount)) : undefined;
    const stats = statNames.length ? Object.fromEntries(statNames.map((n, i) => [n, host[1 + marginCount + i]!])) : undefined;
    return { loss: host[0]!, ...(margins ? { margins } : {}), ...(stats ? { stats } : {}) };
  }

  /**
   * Applies the mean of `parts` (flat gradients, already scaled so that their sum is the mean):
   * global-norm clipping, the NaN/Inf guard, then AdamW. Returns the gradient norm before clipping.
   */
  apply(parts: Float32Array[], lr: number, clipNorm: number, step: number, loss: number): number {
    const opt = this.optimizer;
    if (!opt) throw new Error('this replica has no optimizer');
    const total = this.layout.total;
    const sum = parts.length === 1 ? parts[0]! : new Float32Array(total);
    if (parts.length > 1) {
      for (const p of parts) for (let j = 0; j < total; j++) sum[j]! += p[j]!;
    }
    let sq = 0;
    for (let j = 0; j < total; j++) sq += sum[j]! * sum[j]!;
    const norm = Math.sqrt(sq);
    const bad = NonFiniteError.check({ loss, 'gradient norm': norm }, step);
    if (bad) throw bad;
    const scale = clipNorm > 0 ? clipScale(norm, clipNorm) : 1;
    tf.tidy(() => {
      const grads = new Map<string, tf.Tensor>();
      this.layout.names.forEach((n, i) => {
        const o = this.layout.offsets[i]!;
        const g = tf.tensor(sum.subarray(o, o + this.layout.sizes[i]!), this.model.params.get(n)!.shape, 'float32');
        grads.set(n, scale === 1 ? g : tf.mul(g, scale));
      });
      opt.step(grads, lr);
    });
    return norm;
  }

  /** r_a − r_b per pair, without gradients. */
  margins(batch: PairBatch): Promise<number[]> {
    return read(() => preferenceLoss(rewardsAtLast(this.model, batch), tf.tensor1d(batch.labels)).margins).then((x) => Array.from(x));
  }

  /** Log-probabilities and entropies of every next token (logits divided by `temperature`). */
  async tokenStats(rows: PpoRows, temperature: number): Promise<TokenStats> {
    const n = rows.rows * (rows.cols - 1);
    const both = await read(() => {
      const r = scaledTokenLogprobs(this.model, tf.tensor2d(rows.ids, [rows.rows, rows.cols], 'int32'), temperature);
      return tf.concat([tf.reshape(r.logprobs, [-1]), tf.reshape(r.entropy, [-1])]);
    });
    return { logprobs: both.slice(0, n), entropy: both.slice(n) };
  }

  /** The value head at every position but the last: [rows·(cols−1)]. */
  values(rows: PpoRows): Promise<Float32Array> {
    return read(() => stateValues(this.model, tf.tensor2d(rows.ids, [rows.rows, rows.cols], 'int32')));
  }

  /** The reward head at each row's last real token. */
  rewards(batch: PairBatch): Promise<number[]> {
    return read(() => rewardsAtLast(this.model, batch)).then((x) => Array.from(x));
  }

  generate(req: GenerateRequest): Promise<Generation[]> {
    return generate(this.model, req.prompts, { maxNewTokens: req.maxNewTokens, temperature: req.temperature, ...(req.topK !== undefined ? { topK: req.topK } : {}), ...(req.topP !== undefined ? { topP: req.topP } : {}), eosTokenIds: req.eosTokenIds, rng: new Rng(req.seed), sampleOnDevice: samplesOnDevice() });
  }

  score(prompt: number[], continuations: number[][]): Promise<ContinuationScore[]> {
    return scoreContinuations(this.model, prompt, continuations);
  }

  exportWeights(): Promise<WeightMap> {
    return this.model.exportWeights();
  }

  async optimizerState(): Promise<AdamWState | undefined> {
    return this.optimizer?.state();
  }

  loadOptimizerState(state: AdamWState): void {
    this.optimizer?.loadState(state);
  }

  dispose(): void {
    this.optimizer?.dispose();
    this.model.dispose();
  }
}

/** Computes one tensor in a tidy scope and reads it back asynchronously (every backend can). */
async function read(f: () => tf.Tensor): Promise<Float32Array> {
  const t = tf.tidy(f);
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}
