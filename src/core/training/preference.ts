// Preference-model training: a scalar reward read at each sequence's last token, and the
// contrastive loss on reward differences with soft targets,
//   −[p·log σ(r_a − r_b) + (1 − p)·log σ(r_b − r_a)],
// whose hard-label case (p = 1) is the usual −log σ(r_good − r_bad). P(A ≻ B) = σ(r_a − r_b).

import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../model/transformer';

/**
 * Token rows for preference training: `rows` = 2 × pairs, row 2i is response A of pair i and
 * row 2i+1 its response B, right-padded to `cols`; `lengths` counts each row's real tokens.
 */
export interface PairBatch {
  ids: Int32Array;
  rows: number;
  cols: number;
  lengths: Int32Array;
  /** P(A preferred) per pair. */
  labels: Float32Array;
  /** Weight of a language-modelling loss on each pair's better response, added to the loss (0: none). */
  lmWeight?: number;
}

/**
 * The better response of each pair (A when P(A) ≥ 0.5) as right-padded token rows with a loss
 * mask over its real tokens: what the optional language-modelling term of preference training
 * learns from.
 */
export function betterRows(batch: PairBatch): { ids: Int32Array; rows: number; cols: number; lossMask: Float32Array } {
  const pairs = batch.labels.length;
  const cols = batch.cols;
  const ids = new Int32Array(pairs * cols);
  const lossMask = new Float32Array(pairs * (cols - 1));
  for (let i = 0; i < pairs; i++) {
    const r = batch.labels[i]! >= 0.5 ? 2 * i : 2 * i + 1;
    ids.set(batch.ids.subarray(r * cols, (r + 1) * cols), i * cols);
    lossMask.fill(1, i * (cols - 1), i * (cols - 1) + Math.max(0, batch.lengths[r]! - 1));
  }
  return { ids, rows: pairs, cols, lossMask };
}

export interface MarginBin {
  lo: number;
  hi: number;
  count: number;
  /** Share of the bin's pairs whose margin has the label's sign. */
  accuracy: number;
}

/**
 * Accuracy against the size of the reward difference |r_a − r_b| (the HH-RLHF paper's view: a
 * well-trained preference model is more often right where it is more sure). Labels at exactly
 * 0.5 are left out.
 */
export function accuracyByMargin(margins: ArrayLike<number>, labels: ArrayLike<number>, edges: readonly number[] = [0, 0.25, 0.5, 1, 2, 4]): MarginBin[] {
  const bins: MarginBin[] = edges.map((lo, i) => ({ lo, hi: edges[i + 1] ?? Infinity, count: 0, accuracy: 0 }));
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 0.5) continue;
    const m = Math.abs(margins[i]!);
    const b = bins.find((x) => m >= x.lo && m < x.hi) ?? bins[bins.length - 1]!;
    b.count++;
    if ((margins[i]! > 0) === (labels[i]! > 0.5)) b.accuracy++;
  }
  for (const b of bins) b.accuracy = b.count ? b.accuracy / b.count : NaN;
  return bins;
}

/** Rewards of every row, read at its last real token: [rows]. */
export function rewardsAtLast(model: CausalLM, batch: PairBatch): tf.Tensor1D {
  const { rows, cols } = batch;
  const mask = new Float32Array(rows * cols);
  const select = new Float32Array(rows * rows * cols);
  for (let r = 0; r < rows; r++) {
    const len = batch.lengths[r]!;
    if (len < 1 || len > cols) throw new Error(`row ${r} has length ${len}; it must be within 1…${cols}`);
    mask.fill(1, r * cols, r * cols + len);
    select[r * rows * cols + r * cols + len - 1] = 1;
  }
  const { hidden } = model.forward(tf.tensor2d(batch.ids, [rows, cols], 'int32'), { attentionMask: tf.tensor2d(mask, [rows, cols]) });
  // A selection product picks each row's last hidden state (its gradient is a product too).
  const last = tf.matMul(tf.tensor2d(select, [rows, rows * cols]), hidden) as tf.Tensor2D;
  return model.head(last, 'reward');
}

export interface PreferenceOutputs {
  loss: tf.Scalar;
  /** r_a − r_b per pair. */
  margins: tf.Tensor1D;
}

/** The soft-target loss (mean over pairs) and the reward margins. */
export function preferenceLoss(rewards: tf.Tensor1D, labels: tf.Tensor1D): PreferenceOutputs {
  const pairs = labels.shape[0];
  const byPair = tf.reshape(rewards, [pairs, 2]);
  const margins = tf.reshape(tf.sub(tf.slice(byPair, [0, 0], [pairs, 1]), tf.slice(byPair, [0, 1], [pairs, 1])), [pairs]) as tf.Tensor1D;
  // −log σ(x) = softplus(−x)
  const loss = tf.mean(tf.add(tf.mul(labels, tf.softplus(tf.neg(margins))), tf.mul(tf.sub(1, labels), tf.softplus(margins)))) as tf.Scalar;
  return { loss, margins };
}

/** Share of pairs whose reward margin agrees with the label's side (labels at exactly 0.5 are left out). */
export function pairAccuracy(margins: ArrayLike<number>, labels: ArrayLike<number>): number {
  let right = 0;
  let counted = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 0.5) continue;
    counted++;
    if ((margins[i]! > 0) === (labels[i]! > 0.5)) right++;
  }
  return counted ? right / counted : NaN;
}

export interface CalibrationBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean predicted P(A). */
  confidence: number;
  /** Mean label (the observed frequency of A for hard labels). */
  observed: number;
}

/** Reliability bins of predicted P(A) = σ(margin) against labels, and the expected calibration error. */
export function calibration(margins: ArrayLike<number>, labels: ArrayLike<number>, bins = 10): { bins: CalibrationBin[]; ece: number } {
  const out: CalibrationBin[] = Array.from({ length: bins }, (_, i) => ({ lo: i / bins, hi: (i + 1) / bins, count: 0, confidence: 0, observed: 0 }));
  for (let i = 0; i < labels.length; i++) {
    const p = 1 / (1 + Math.exp(-margins[i]!));
    const b = out[Math.min(bins - 1, Math.floor(p * bins))]!;
    b.count++;
    b.confidence += p;
    b.observed += labels[i]!;
  }
  let ece = 0;
  for (const b of out) {
    if (b.count === 0) continue;
    b.confidence /= b.count;
    b.observed /= b.count;
    ece += (b.count / labels.length) * Math.abs(b.confidence - b.observed);
  }
  return { bins: out, ece };
}
