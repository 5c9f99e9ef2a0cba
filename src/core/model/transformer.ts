// Causal transformer language models of the GPT-2 and Llama families on TensorFlow.js.
//
// Activations stay two-dimensional ([tokens, width]) wherever a matrix product follows, because
// the CPU backends run 2-D products far faster than batched ones. Attention works per group of
// query heads that share a key/value head: queries are laid out [B, KV, G·T, hd], so grouped-query
// attention needs no copy of keys or values.

import * as tf from '@tensorflow/tfjs-core';
import { type HeadName, type ModelConfig, type WeightMap, configProblems, headShapes, parameterShapes } from './config';

/** Keys and values of earlier positions, per layer: [B, KV, S, hd]. */
export interface KvCache {
  readonly layers: { k: tf.Tensor4D; v: tf.Tensor4D }[];
  /** Number of cached positions (including left padding). */
  readonly length: number;
}

export interface ForwardOptions {
  /** [B, T+past] 1 for real tokens, 0 for padding (past positions first). Omit when nothing is padded. */
  attentionMask?: tf.Tensor2D;
  /** [B, T] position of each new token; defaults to past + 0..T-1. */
  positions?: tf.Tensor2D;
  cache?: KvCache;
  /** Return the updated cache (generation). */
  useCache?: boolean;
}

export interface ForwardResult {
  /** Final-norm hidden states, [B·T, D]. */
  hidden: tf.Tensor2D;
  cache?: KvCache;
}

/**
 * How the token-embedding gradient is formed: tfjs's gather gradient, a scatter-add on the host
 * (backends without UnsortedSegmentSum, such as WASM), or `auto`: whichever the current backend supports.
 */
export type EmbeddingGradMode = 'auto' | 'native' | 'host';

export class CausalLM {
  readonly params: Map<string, tf.Variable>;
  embeddingGrad: EmbeddingGradMode = 'auto';
  private readonly masks = new Map<number, tf.Tensor>();
  private ropeTables: { cos: tf.Tensor2D; sin: tf.Tensor2D } | undefined;

  constructor(readonly config: ModelConfig, params: Map<string, tf.Variable>) {
    const problems = configProblems(config);
    if (problems.length) throw new Error(`invalid model config: ${problems.join('; ')}`);
    for (const [name, shape] of parameterShapes(config)) {
      const p = params.get(name);
      if (!p) throw new Error(`model parameter '${name}' is missing`);
      if (!sameShape(p.shape, shape)) throw new Error(`model parameter '${name}' has shape [${p.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    this.params = params;
  }

  /** A new model with GPT-2-style initial weights (see `initWeights`). */
  static init(config: ModelConfig, normal: () => number, heads: readonly HeadName[] = []): CausalLM {
    return CausalLM.fromWeights(config, initWeights(config, normal, heads));
  }

  static fromWeights(config: ModelConfig, weights: WeightMap, trainable = true): CausalLM {
    const params = new Map<string, tf.Variable>();
    for (const [name, t] of weights) params.set(name, makeVariable(t.data, t.shape, trainable, name));
    return new CausalLM(config, params);
  }

  /** Adds a scalar head (`reward` or `value`), initialised from `from` when given, else N(0, 1/√D). */
  addHead(head: HeadName, normal: () => number, from?: WeightMap): void {
    for (const [name, shape] of headShapes(this.config, head)) {
      if (this.params.has(name)) continue;
      const src = from?.get(name);
      const size = shape.reduce((a, b) => a * b, 1);
      const data = src ? Float32Array.from(src.data) : new Float32Array(size).map(() => (name.endsWith('.w') ? normal() / Math.sqrt(this.config.dModel) : 0));
      this.params.set(name, makeVariable(data, shape, true, name));
    }
  }

  hasHead(head: HeadName): boolean {
    return this.params.has(`${head}.w`);
  }

  private p(name: string): tf.Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`model parameter '${name}' is missing`);
    return t;
  }

  private opt(name: string): tf.Tensor | undefined {
    return this.params.get(name);
  }

  /** Runs the trunk. `ids` is [B, T] int32. */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const [B, T] = ids.shape;
    const past = options.cache?.length ?? 0;
    const S = past + T;
    if (S > c.maxPositions) throw new Error(`sequence of ${S} tokens is longer than the model's context of ${c.maxPositions}`);
    const N = B * T;
    const flatIds = tf.reshape(ids, [N]) as tf.Tensor1D;
    let x = this.embed(flatIds);
    const positions = options.positions;
    if (c.arch === 'gpt2') {
      const pos = positions
        ? tf.gather(this.p('wpe'), tf.reshape(positions, [N]))
        : tf.tile(tf.slice(this.p('wpe'), [past, 0], [T, c.dModel]), [B, 1]);
      x = tf.add(x, pos);
    }
    const rope = c.arch === 'llama' ? this.rope(B, T, past, positions) : undefined;
    const bias = this.attentionBias(B, T, past, options.attentionMask);
    const newLayers: { k: tf.Tensor4D; v: tf.Tensor4D }[] = [];
    for (let i = 0; i < c.nLayers; i++) {
      const layerCache = options.cache?.layers[i];
      const a = this.norm(x, `h.${i}.ln1`);
      const { out, k, v } = this.attention(a, i, B, T, bias, rope, layerCache);
      if (options.useCache) newLayers.push({ k, v });
      x = tf.add(x, out);
      const m = this.norm(x, `h.${i}.ln2`);
      x = tf.add(x, this.mlp(m, i));
    }
    const hidden = this.norm(x, 'lnf') as tf.Tensor2D;
    return { hidden, ...(options.useCache ? { cache: { layers: newLayers, length: S } } : {}) };
  }

  /**
   * Next-token logits for hidden states [N, D] → [N, V]. `head` is the output matrix as [D, V]
   * when the caller keeps one (generation transposes a tied embedding once, not every step).
   */
  logits(hidden: tf.Tensor2D, head?: tf.Tensor2D): tf.Tensor2D {
    if (head) return tf.matMul(hidden, head);
    return this.config.tieEmbeddings ? tf.matMul(hidden, this.p('wte'), false, true) : tf.matMul(hidden, this.p('lm_head'));
  }

  /** The output matrix as [D, V] (a new tensor when the embedding is tied; the caller disposes it). */
  headMatrix(): tf.Tensor2D {
    return this.config.tieEmbeddings ? tf.transpose(this.p('wte')) as tf.Tensor2D : tf.clone(this.p('lm_head')) as tf.Tensor2D;
  }

  /** A scalar head on hidden states [N, D] → [N]. */
  head(hidden: tf.Tensor2D, head: HeadName): tf.Tensor1D {
    return tf.reshape(tf.add(tf.matMul(hidden, this.p(`${head}.w`)), this.p(`${head}.b`)), [hidden.shape[0]]) as tf.Tensor1D;
  }

  /**
   * Mean next-token cross-entropy. `ids` [B, T]; `lossMask` [B, T-1] (1 where the token at t+1
   * counts) defaults to all ones.
   */
  lmLoss(ids: tf.Tensor2D, lossMask?: tf.Tensor2D, attentionMask?: tf.Tensor2D): tf.Scalar {
    const lp = this.tokenLogprobs(ids, attentionMask);
    if (!lossMask) return tf.neg(tf.mean(lp)) as tf.Scalar;
    const m = tf.cast(lossMask, 'float32');
    return tf.neg(tf.div(tf.sum(tf.mul(lp, m)), tf.maximum(tf.sum(m), 1))) as tf.Scalar;
  }

  /** Log-probability of each token given those before it: [B, T-1] (entry t scores ids[:, t+1]). */
  tokenLogprobs(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D, positions?: tf.Tensor2D): tf.Tensor2D {
    const [B, T] = ids.shape;
    const { hidden } = this.forward(ids, { ...(attentionMask ? { attentionMask } : {}), ...(positions ? { positions } : {}) });
    const h = tf.reshape(tf.slice(tf.reshape(hidden, [B, T, this.config.dModel]), [0, 0, 0], [B, T - 1, this.config.dModel]), [B * (T - 1), this.config.dModel]) as tf.Tensor2D;
    const logits = this.logits(h);
    const targets = tf.reshape(tf.slice(ids, [0, 1], [B, T - 1]), [B * (T - 1)]) as tf.Tensor1D;
    return tf.reshape(pickLogprobs(logits, targets), [B, T - 1]) as tf.Tensor2D;
  }

  /** A copy of every parameter on the host (read asynchronously, so it works on every backend). */
  async exportWeights(): Promise<WeightMap> {
    const out: WeightMap = new Map();
    for (const [name, v] of this.params) out.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    return out;
  }

  /** Overwrites parameters with host values (same names and shapes). */
  loadWeights(weights: WeightMap): void {
    for (const [name, t] of weights) {
      const v = this.params.get(name);
      if (!v) continue;
      if (!sameShape(v.shape, t.shape)) throw new Error(`parameter '${name}' has shape [${t.shape.join(', ')}], model expects [${v.shape.join(', ')}]`);
      tf.tidy(() => v.assign(tf.tensor(t.data, v.shape, 'float32')));
    }
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
    this.ropeTables?.cos.dispose();
    this.ropeTables?.sin.dispose();
  }

  // ---- pieces ----

  private embed(flatIds: tf.Tensor1D): tf.Tensor2D {
    const wte = this.p('wte');
    const mode = this.embeddingGrad === 'auto' ? (tf.getKernel('UnsortedSegmentSum', tf.getBackend()) ? 'native' : 'host') : this.embeddingGrad;
    if (mode === 'native') return tf.gather(wte, flatIds) as tf.Tensor2D;
    const hostIds = flatIds.dataSync();
    const [V, D] = wte.shape as [number, number];
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: tf.gather(args[0] as tf.Tensor, flatIds),
      gradFunc: (dy: tf.Tensor) => {
        const g = new Float32Array(V * D);
        const d = dy.dataSync() as Float32Array;
        for (let i = 0; i < hostIds.length; i++) {
          const row = (hostIds[i] ?? 0) * D;
          const src = i * D;
          for (let j = 0; j < D; j++) g[row + j]! += d[src + j]!;
        }
        return tf.tensor2d(g, [V, D]);
      },
    }));
    return f(wte) as tf.Tensor2D;
  }

  private norm(x: tf.Tensor, name: string): tf.Tensor2D {
    const c = this.config;
    const g = this.p(`${name}.g`);
    if (c.arch === 'gpt2') {
      const { mean, variance } = tf.moments(x, -1, true);
      const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, c.normEps)));
      return tf.add(tf.mul(y, g), this.p(`${name}.b`)) as tf.Tensor2D;
    }
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, c.normEps))), g) as tf.Tensor2D;
  }

  private linear(x: tf.Tensor2D, w: string, b: string | undefined): tf.Tensor2D {
    const bias = b ? this.opt(b) : undefined;
    return tf.fused.matMul({ a: x, b: this.p(w) as tf.Tensor2D, ...(bias ? { bias } : {}) }) as tf.Tensor2D;
  }

  private attention(
    a: tf.Tensor2D, i: number, B: number, T: number, bias: tf.Tensor,
    rope: { cos: tf.Tensor; sin: tf.Tensor } | undefined,
    cache: { k: tf.Tensor4D; v: tf.Tensor4D } | undefined,
  ): { out: tf.Tensor2D; k: tf.Tensor4D; v: tf.Tensor4D } {
    const c = this.config;
    const { nHeads: H, nKvHeads: KV, headDim: hd } = c;
    const G = H / KV;
    const N = B * T;
    const qkv = this.linear(a, `h.${i}.attn.wqkv`, `h.${i}.attn.bqkv`);
    let qk = tf.slice(qkv, [0, 0], [N, (H + KV) * hd]);
    const v3 = tf.slice(qkv, [0, (H + KV) * hd], [N, KV * hd]);
    if (rope) qk = tf.reshape(applyRope(tf.reshape(qk, [N, H + KV, hd]), rope.cos, rope.sin), [N, (H + KV) * hd]);
    const q3 = tf.slice(qk, [0, 0], [N, H * hd]);
    const k3 = tf.slice(qk, [0, H * hd], [N, KV * hd]);
    // [B, T, KV, G, hd] → [B, KV, G, T, hd] → [B, KV, G·T, hd]
    // With one new token the transposes below only move an axis of size 1: a reshape does it.
    const q = T === 1 ? tf.reshape(q3, [B, KV, G, hd]) : tf.reshape(tf.transpose(tf.reshape(q3, [B, T, KV, G, hd]), [0, 2, 3, 1, 4]), [B, KV, G * T, hd]);
    let k = (T === 1 ? tf.reshape(k3, [B, KV, 1, hd]) : tf.transpose(tf.reshape(k3, [B, T, KV, hd]), [0, 2, 1, 3])) as tf.Tensor4D;
    let v = (T === 1 ? tf.reshape(v3, [B, KV, 1, hd]) : tf.transpose(tf.reshape(v3, [B, T, KV, hd]), [0, 2, 1, 3])) as tf.Tensor4D;
    if (cache) {
      k = tf.concat([cache.k, k], 2);
      v = tf.concat([cache.v, v], 2);
    }
    const S = k.shape[2];
    let o: tf.Tensor; // [B, KV, G·T, hd]
    if (T === 1) {
      // One query per head (a decoding step): products of a vector with a short matrix are
      // cheaper as broadcast multiplies and sums than as many tiny matrix products.
      const qs = tf.reshape(tf.mul(q, 1 / Math.sqrt(hd)), [B, KV, G, 1, hd]);
      const scores = tf.sum(tf.mul(qs, tf.reshape(k, [B, KV, 1, S, hd])), -1); // [B, KV, G, S]
      const probs = tf.softmax(tf.add(tf.reshape(scores, [B, KV, G, 1, S]), bias)); // [B, KV, G, 1, S]
      o = tf.sum(tf.mul(tf.reshape(probs, [B, KV, G, S, 1]), tf.reshape(v, [B, KV, 1, S, hd])), -2); // [B, KV, G, hd]
    } else {
      const scores = tf.reshape(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), [B, KV, G, T, S]);
      const probs = tf.reshape(tf.softmax(tf.add(scores, bias)), [B, KV, G * T, S]);
      o = tf.matMul(probs, v);
    }
    const merged = (T === 1 ? tf.reshape(o, [N, H * hd]) : tf.reshape(tf.transpose(tf.reshape(o, [B, KV, G, T, hd]), [0, 3, 1, 2, 4]), [N, H * hd])) as tf.Tensor2D;
    return { out: this.linear(merged, `h.${i}.attn.wo`, `h.${i}.attn.bo`), k, v };
  }

  private mlp(x: tf.Tensor2D, i: number): tf.Tensor2D {
    const c = this.config;
    const hmid = this.linear(x, `h.${i}.mlp.wi`, `h.${i}.mlp.bi`);
    let act: tf.Tensor2D;
    if (c.activation === 'silu') {
      const N = x.shape[0];
      const gate = tf.slice(hmid, [0, 0], [N, c.dFf]);
      const up = tf.slice(hmid, [0, c.dFf], [N, c.dFf]);
      act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
    } else if (c.activation === 'gelu_new') {
      act = geluTanh(hmid);
    } else {
      act = geluErf(hmid);
    }
    return this.linear(act, `h.${i}.mlp.wo`, `h.${i}.mlp.bo`);
  }

  /** Additive attention bias, broadcastable to [B, KV, G, T, S]: causal, plus key padding when a mask is given. */
  private attentionBias(B: number, T: number, past: number, mask: tf.Tensor2D | undefined): tf.Tensor {
    const S = past + T;
    if (T === 1) {
      // One new token may attend to every earlier position: only padding needs hiding.
      if (!mask) return tf.scalar(0);
      if (mask.shape[1] !== S) throw new Error(`attention mask covers ${mask.shape[1]} positions, expected ${S}`);
      return tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -1e9), [B, 1, 1, 1, S]);
    }
    const causal = this.causalMask(T, S);
    if (!mask) return tf.reshape(causal, [1, 1, 1, T, S]);
    if (mask.shape[1] !== S) throw new Error(`attention mask covers ${mask.shape[1]} positions, expected ${S}`);
    const keyBias = tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -1e9), [B, 1, 1, 1, S]);
    return tf.add(tf.reshape(causal, [1, 1, 1, T, S]), keyBias);
  }

  private causalMask(T: number, S: number): tf.Tensor2D {
    const key = T * 100003 + S;
    let m = this.masks.get(key);
    if (!m) {
      if (this.masks.size >= 8) {
        for (const old of this.masks.values()) old.dispose();
        this.masks.clear();
      }
      const data = new Float32Array(T * S);
      const past = S - T;
      for (let r = 0; r < T; r++) for (let col = 0; col < S; col++) data[r * S + col] = col <= past + r ? 0 : -1e9;
      m = tf.keep(tf.tensor2d(data, [T, S]));
      this.masks.set(key, m);
    }
    return m as tf.Tensor2D;
  }

  /** cos/sin for each new token, [B·T, 1, hd/2]. */
  private rope(B: number, T: number, past: number, positions: tf.Tensor2D | undefined): { cos: tf.Tensor; sin: tf.Tensor } {
    const c = this.config;
    const half = c.headDim / 2;
    if (!this.ropeTables) {
      const P = c.maxPositions;
      const cos = new Float32Array(P * half);
      const sin = new Float32Array(P * half);
      for (let p = 0; p < P; p++) {
        for (let j = 0; j < half; j++) {
          // Computed in float32 like the reference implementations: inv_freq first, then p·inv_freq.
          const invFreq = Math.fround(1 / Math.pow(c.ropeTheta, (2 * j) / c.headDim));
          const angle = Math.fround(p * invFreq);
          cos[p * half + j] = Math.cos(angle);
          sin[p * half + j] = Math.sin(angle);
        }
      }
      this.ropeTables = { cos: tf.keep(tf.tensor2d(cos, [P, half])), sin: tf.keep(tf.tensor2d(sin, [P, half])) };
    }
    const N = B * T;
    if (positions) {
      const flat = tf.reshape(positions, [N]);
      return { cos: tf.reshape(tf.gather(this.ropeTables.cos, flat), [N, 1, half]), sin: tf.reshape(tf.gather(this.ropeTables.sin, flat), [N, 1, half]) };
    }
    const pick = (t: tf.Tensor2D): tf.Tensor => tf.reshape(tf.tile(tf.slice(t, [past, 0], [T, half]), [B, 1]), [N, 1, half]);
    return { cos: pick(this.ropeTables.cos), sin: pick(this.ropeTables.sin) };
  }
}

let nextModelId = 0;

/** GPT-2-style initial weights on the host: N(0, 0.02), residual projections scaled by 1/√(2·layers), norm gains 1, biases 0. */
export function initWeights(config: ModelConfig, normal: () => number, heads: readonly HeadName[] = []): WeightMap {
  const weights: WeightMap = new Map();
  const residual = 0.02 / Math.sqrt(2 * config.nLayers);
  const shapes = new Map(parameterShapes(config));
  for (const h of heads) for (const [n, s] of headShapes(config, h)) shapes.set(n, s);
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (name.endsWith('.g')) data.fill(1);
    else if (shape.length >= 2) {
      const std = name.endsWith('attn.wo') || name.endsWith('mlp.wo') ? residual : 0.02;
      for (let i = 0; i < size; i++) data[i] = normal() * std;
    }
    weights.set(name, { shape, data });
  }
  return weights;
}

function makeVariable(data: Float32Array, shape: readonly number[], trainable: boolean, name: string): tf.Variable {
  const initial = tf.tensor(data, [...shape], 'float32');
  const v = tf.variable(initial, trainable, `${name}#${nextModelId++}`);
  initial.dispose();
  return v;
}

/** Rotary embedding in the rotate-half convention, x: [N, heads, hd]. */
function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const [N, heads, hd] = x.shape as [number, number, number];
  const half = hd / 2;
  const x1 = tf.slice(x, [0, 0, 0], [N, heads, half]);
  const x2 = tf.slice(x, [0, 0, half], [N, heads, half]);
  return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], 2);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GPT-2's GELU: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function geluTanh(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), SQRT_2_OVER_PI);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as tf.Tensor2D;
}

/** Exact GELU through the error function. */
function geluErf(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)) as tf.Tensor2D;
}

/** log softmax(logits)[target] per row, through a one-hot product (no gather gradient needed). */
export function pickLogprobs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const logp = tf.logSoftmax(logits);
  const oneHot = tf.cast(tf.oneHot(tf.cast(targets, 'int32'), logits.shape[1]), 'float32');
  return tf.sum(tf.mul(logp, oneHot), 1) as tf.Tensor1D;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
