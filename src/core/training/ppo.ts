// PPO for RL-CAI, following Hugging Face TRL's PPOTrainer so that curves read the same:
//   per-token reward  r_t = −β·(log π(a_t|s_t) − log π_ref(a_t|s_t)),  plus the preference model's
//                      score on the last response token;
//   advantages        GAE(γ, λ) over the response, whitened over the batch; returns = A + V;
//   policy loss       masked mean of max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)),  ρ = exp(log π − log π_old);
//   value loss        ½·masked mean of max((V − R)², (clip(V, V_old ± ε_v) − R)²).
// Sequences are right-padded rows [prompt, response, padding]; per-token arrays are [rows, cols−1]
// where entry t concerns the token at t+1 (as `tokenLogprobs`), and `mask` marks response tokens.
// Masked means divide by `norm`, the number of response tokens in the whole minibatch, so that
// replicas working on shares of a minibatch add up to the minibatch's mean.

import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../model/transformer';

/** Right-padded token rows with per-token arrays for the response positions. */
export interface PpoRows {
  ids: Int32Array;
  rows: number;
  cols: number;
  /** [rows, cols−1]: 1 where entry t scores a response token. */
  mask: Float32Array;
}

export interface PolicyBatch extends PpoRows {
  /** Log-probabilities when the rollout was made. */
  old: Float32Array;
  advantages: Float32Array;
  cliprange: number;
  /** Response tokens in the whole minibatch (the masked means' denominator). */
  norm: number;
  temperature: number;
}

export interface ValueBatch extends PpoRows {
  /** Values when the rollout was made. */
  old: Float32Array;
  returns: Float32Array;
  cliprange: number;
  norm: number;
  /** Weight of the value loss in the objective (TRL's vf_coef). */
  coef: number;
}

/** Log-probability of each next token under logits divided by `temperature`: [rows, cols−1]. */
export function scaledTokenLogprobs(model: CausalLM, ids: tf.Tensor2D, temperature: number): { logprobs: tf.Tensor2D; entropy: tf.Tensor2D } {
  const [B, T] = ids.shape;
  const D = model.config.dModel;
  const { hidden } = model.forward(ids);
  const h = tf.reshape(tf.slice(tf.reshape(hidden, [B, T, D]), [0, 0, 0], [B, T - 1, D]), [B * (T - 1), D]) as tf.Tensor2D;
  let logits = model.logits(h);
  if (temperature !== 1) logits = tf.div(logits, temperature + 1e-7);
  const logp = tf.logSoftmax(logits);
  const targets = tf.reshape(tf.slice(ids, [0, 1], [B, T - 1]), [B * (T - 1)]);
  const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.cast(targets, 'int32'), logits.shape[1])), 1);
  const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), 1));
  return { logprobs: tf.reshape(picked, [B, T - 1]) as tf.Tensor2D, entropy: tf.reshape(entropy, [B, T - 1]) as tf.Tensor2D };
}

/** Value-head outputs at every position but the last: [rows, cols−1] (entry t: the state before token t+1). */
export function stateValues(model: CausalLM, ids: tf.Tensor2D): tf.Tensor2D {
  const [B, T] = ids.shape;
  const { hidden } = model.forward(ids);
  const v = tf.reshape(model.head(hidden, 'value'), [B, T]);
  return tf.slice(v, [0, 0], [B, T - 1]) as tf.Tensor2D;
}

export interface LossWithStats {
  loss: tf.Scalar;
  /** Sums over the batch's response tokens divided by `norm` (so shares add up). */
  stats: Record<string, tf.Scalar>;
}

/** The clipped surrogate objective (as a loss) and its diagnostics. */
export function policyLoss(model: CausalLM, b: PolicyBatch): LossWithStats {
  const ids = tf.tensor2d(b.ids, [b.rows, b.cols], 'int32');
  const shape: [number, number] = [b.rows, b.cols - 1];
  const mask = tf.tensor2d(b.mask, shape);
  const { logprobs } = scaledTokenLogprobs(model, ids, b.temperature);
  const diff = tf.sub(logprobs, tf.tensor2d(b.old, shape));
  const ratio = tf.exp(diff);
  const adv = tf.tensor2d(b.advantages, shape);
  const l1 = tf.mul(tf.neg(adv), ratio);
  const l2 = tf.mul(tf.neg(adv), tf.clipByValue(ratio, 1 - b.cliprange, 1 + b.cliprange));
  const masked = (x: tf.Tensor): tf.Scalar => tf.div(tf.sum(tf.mul(x, mask)), b.norm) as tf.Scalar;
  const loss = masked(tf.maximum(l1, l2));
  return {
    loss,
    stats: {
      'policy/approxkl_avg': masked(tf.mul(0.5, tf.square(diff))),
      'policy/clipfrac_avg': masked(tf.cast(tf.greater(l2, l1), 'float32')),
      'val/ratio': masked(ratio),
      'val/ratio_sq': masked(tf.square(ratio)),
    },
  };
}

/** The clipped value loss and the share of clipped value predictions. */
export function valueLoss(model: CausalLM, b: ValueBatch): LossWithStats {
  const ids = tf.tensor2d(b.ids, [b.rows, b.cols], 'int32');
  const shape: [number, number] = [b.rows, b.cols - 1];
  const mask = tf.tensor2d(b.mask, shape);
  const v = stateValues(model, ids);
  const old = tf.tensor2d(b.old, shape);
  const ret = tf.tensor2d(b.returns, shape);
  const clipped = tf.add(old, tf.clipByValue(tf.sub(v, old), -b.cliprange, b.cliprange));
  const e1 = tf.square(tf.sub(v, ret));
  const e2 = tf.square(tf.sub(clipped, ret));
  const masked = (x: tf.Tensor): tf.Scalar => tf.div(tf.sum(tf.mul(x, mask)), b.norm) as tf.Scalar;
  const vf = tf.mul(0.5, masked(tf.maximum(e1, e2))) as tf.Scalar;
  return {
    loss: tf.mul(b.coef, vf) as tf.Scalar,
    stats: { 'loss/value_avg': vf, 'val/clipfrac_avg': masked(tf.cast(tf.greater(e2, e1), 'float32')) },
  };
}

// ---- host-side arithmetic over [rows, cols−1] arrays ----

/** First and last masked entry of each row (−1 when the row has none). */
export function responseSpans(mask: Float32Array, rows: number, width: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let r = 0; r < rows; r++) {
    let start = -1;
    let end = -1;
    for (let t = 0; t < width; t++) {
      if (mask[r * width + t]! > 0) {
        if (start < 0) start = t;
        end = t;
      }
    }
    out.push({ start, end });
  }
  return out;
}

export interface RewardParts {
  /** Per-token rewards (KL penalty, plus the score on each row's last response token). */
  rewards: Float32Array;
  /** Per-row sums of the KL estimate log π − log π_ref. */
  kl: number[];
  /** Per-row sums of the KL penalty −β·kl. */
  nonScore: number[];
}

/** TRL's reward: −β·(log π − log π_ref) per response token, plus the score at the last one. */
export function klPenalisedRewards(logprobs: Float32Array, refLogprobs: Float32Array, mask: Float32Array, scores: readonly number[], rows: number, width: number, beta: number): RewardParts {
  const rewards = new Float32Array(rows * width);
  const kl: number[] = [];
  const nonScore: number[] = [];
  const spans = responseSpans(mask, rows, width);
  for (let r = 0; r < rows; r++) {
    let k = 0;
    for (let t = 0; t < width; t++) {
      const i = r * width + t;
      if (!(mask[i]! > 0)) continue;
      const d = logprobs[i]! - refLogprobs[i]!;
      k += d;
      rewards[i] = -beta * d;
    }
    kl.push(k);
    nonScore.push(-beta * k);
    const { end } = spans[r]!;
    if (end >= 0) rewards[r * width + end]! += scores[r]!;
  }
  return { rewards, kl, nonScore };
}

/** Generalised advantage estimation over each row's response span; returns = advantages + values. */
export function gae(rewards: Float32Array, values: Float32Array, mask: Float32Array, rows: number, width: number, gamma: number, lam: number): { advantages: Float32Array; returns: Float32Array } {
  const advantages = new Float32Array(rows * width);
  const returns = new Float32Array(rows * width);
  const spans = responseSpans(mask, rows, width);
  for (let r = 0; r < rows; r++) {
    const { start, end } = spans[r]!;
    if (start < 0) continue;
    let last = 0;
    for (let t = end; t >= start; t--) {
      const i = r * width + t;
      const next = t < end ? values[i + 1]! : 0;
      const delta = rewards[i]! + gamma * next - values[i]!;
      last = delta + gamma * lam * last;
      advantages[i] = last;
      returns[i] = last + values[i]!;
    }
  }
  return { advantages, returns };
}

/** Mean and (unbiased) variance over masked entries. */
export function maskedMoments(x: Float32Array, mask: Float32Array): { mean: number; variance: number; count: number } {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < x.length; i++) if (mask[i]! > 0) {
    n++;
    sum += x[i]!;
  }
  const mean = n ? sum / n : 0;
  let sq = 0;
  for (let i = 0; i < x.length; i++) if (mask[i]! > 0) sq += (x[i]! - mean) ** 2;
  return { mean, variance: n > 1 ? sq / (n - 1) : 0, count: n };
}

/** (x − mean)/√(var + 1e−8) over masked entries (TRL's masked_whiten, mean shifted back unless `shiftMean`). */
export function maskedWhiten(x: Float32Array, mask: Float32Array, shiftMean = true): Float32Array {
  const { mean, variance } = maskedMoments(x, mask);
  const inv = 1 / Math.sqrt(variance + 1e-8);
  return x.map((v, i) => (mask[i]! > 0 ? (v - mean) * inv + (shiftMean ? 0 : mean) : 0));
}

/**
 * Adaptive KL coefficient (Ziegler et al. 2019, as in TRL's AdaptiveKLController): moves β so the
 * observed KL approaches the target, by at most ±20 % of the error per `horizon` episodes.
 */
export function adaptKlCoef(beta: number, observedKl: number, targetKl: number, episodes: number, horizon = 10_000): number {
  const error = Math.min(0.2, Math.max(-0.2, observedKl / targetKl - 1));
  return beta * (1 + (error * episodes) / horizon);
}
