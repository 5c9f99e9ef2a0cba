// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_: the norm is over all
// gradients together, and when it exceeds `maxNorm` every gradient is scaled by
// maxNorm / (norm + 1e-6).

import * as tf from '@tensorflow/tfjs-core';

/** √(Σ g²) over every element of every gradient; 0 for no gradients. The caller owns the scalar. */
export function globalNorm(grads: Map<string, tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const squares = [...grads.values()].map((g) => tf.sum(tf.square(g)));
    if (squares.length === 0) return tf.scalar(0);
    return tf.sqrt(sumScalars(squares)) as tf.Scalar;
  });
}

/**
 * The factor clipping applies for a given norm: maxNorm / (norm + 1e-6) when that is below 1,
 * otherwise 1. A non-finite norm gives 1: there is nothing meaningful to scale by, and the
 * NaN/Inf guard is what stops such a step.
 */
export function clipScale(norm: number, maxNorm: number): number {
  if (!Number.isFinite(norm)) return 1;
  const s = maxNorm / (norm + 1e-6);
  return s < 1 ? s : 1;
}

/**
 * Clips `grads` to `maxNorm` and reports their norm before clipping (one scalar read back).
 * Ownership: the input tensors are neither disposed nor kept. When clipping applies the map
 * holds new tensors the caller must dispose; when it does not, the map holds the inputs
 * themselves. The read is asynchronous, so this cannot run inside a `tf.tidy`.
 */
export async function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): Promise<{ grads: Map<string, tf.Tensor>; norm: number }> {
  if (!(maxNorm > 0)) throw new Error(`clip norm must be positive (got ${maxNorm})`);
  const n = globalNorm(grads);
  const norm = ((await n.data()) as Float32Array)[0] as number;
  n.dispose();
  return { grads: scaleGrads(grads, clipScale(norm, maxNorm)), norm };
}

/** `grads` times `scale`, as new tensors; the same map when `scale` is 1. */
export function scaleGrads(grads: Map<string, tf.Tensor>, scale: number): Map<string, tf.Tensor> {
  if (scale === 1) return grads;
  const names = [...grads.keys()];
  // Returned from the tidy rather than kept, so that an enclosing tidy still frees them.
  const scaled = tf.tidy(() => {
    const s = tf.scalar(scale);
    return names.map((name) => tf.mul(grads.get(name) as tf.Tensor, s));
  });
  return new Map(names.map((name, i) => [name, scaled[i] as tf.Tensor]));
}

/**
 * The sum of many scalars as one reduction. Not `tf.addN`: its WebGPU kernel binds every input
 * at once and fails beyond the device's storage-buffer limit (8 by default), while `concat`
 * splits its inputs to fit.
 */
export function sumScalars(xs: tf.Tensor[]): tf.Scalar {
  if (xs.length === 1) return tf.reshape(xs[0] as tf.Tensor, []) as tf.Scalar;
  return tf.sum(tf.concat(xs.map((x) => tf.reshape(x, [1])))) as tf.Scalar;
}
