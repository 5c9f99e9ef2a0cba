// One training step, independent of the model: gradients of a scalar loss with respect to the
// parameters (optionally accumulated over micro-batches), the global gradient norm, the NaN/Inf
// guard, clipping and the AdamW update. Per step exactly two numbers come back to the host,
// the loss and the gradient norm, in one read.

import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node entry point registers no gradient functions; training needs all of them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { GradAccumulator } from './accumulate.js';
import { clipScale, globalNorm, scaleGrads } from './clip.js';
import { NonFiniteError } from './guard.js';
import { type AdamW } from './optimizer.js';

export interface TrainStepOptions {
  /** The trainable parameters by name; gradients are taken with respect to these only. */
  readonly params: Map<string, tf.Variable>;
  /** The batch's mean loss; used when `accumulate` is 1 or absent. */
  readonly lossFn: () => tf.Scalar;
  readonly optimizer: AdamW;
  readonly lr: number;
  /** Clip the global gradient norm to this; absent means no clipping. */
  readonly clipNorm?: number;
  /** Micro-batches per step; above 1, `microLoss(i)` is called for i = 0 … accumulate − 1. */
  readonly accumulate?: number;
  /** Mean loss of micro-batch `i` (all of equal size): the step's gradient is their mean. */
  readonly microLoss?: (i: number) => tf.Scalar;
  /** The step's number, for diagnostics. */
  readonly step: number;
}

export interface TrainStepResult {
  /** The step's loss (mean over micro-batches). */
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
}

/**
 * Runs one optimisation step. Throws `NonFiniteError` when the loss or the gradient norm is NaN
 * or infinite; the check happens before any update, so the weights and the optimizer state are
 * untouched. Every intermediate tensor is freed, on success and on error.
 */
export function trainStep(opts: TrainStepOptions): TrainStepResult {
  const accumulate = opts.accumulate ?? 1;
  if (!Number.isInteger(accumulate) || accumulate < 1) throw new Error(`accumulate must be a positive integer (got ${accumulate})`);
  if (accumulate > 1 && !opts.microLoss) throw new Error('accumulate > 1 needs microLoss');
  if (opts.clipNorm !== undefined && !(opts.clipNorm > 0)) throw new Error(`clipNorm must be positive (got ${opts.clipNorm})`);

  // tfjs names gradients by variable name; map them back to the parameter names.
  const varList: tf.Variable[] = [];
  const byVarName = new Map<string, string>();
  for (const [name, v] of opts.params) {
    varList.push(v);
    byVarName.set(v.name, name);
  }
  const gradsOf = (f: () => tf.Scalar): { value: tf.Scalar; grads: Map<string, tf.Tensor> } => {
    const { value, grads } = tf.variableGrads(f, varList);
    const out = new Map<string, tf.Tensor>();
    for (const [varName, g] of Object.entries(grads)) {
      // `g` is null for a parameter the loss does not reach; the optimizer leaves it alone.
      if (g) out.set(byVarName.get(varName) as string, g);
    }
    return { value, grads: out };
  };

  const acc = new GradAccumulator();
  try {
    return tf.tidy(() => {
      let loss: tf.Scalar;
      let grads: Map<string, tf.Tensor>;
      if (accumulate === 1) {
        ({ value: loss, grads } = gradsOf(opts.lossFn));
      } else {
        const microLoss = opts.microLoss as (i: number) => tf.Scalar;
        const losses: tf.Scalar[] = [];
        for (let i = 0; i < accumulate; i++) {
          const r = gradsOf(() => microLoss(i));
          losses.push(r.value);
          acc.add(r.grads, 1);
        }
        loss = tf.div(tf.addN(losses), accumulate) as tf.Scalar;
        grads = acc.mean();
        acc.reset();
      }
      const norm = globalNorm(grads);
      const host = tf.stack([loss, norm]).dataSync();
      const lossValue = host[0] as number;
      const gradNorm = host[1] as number;
      const bad = NonFiniteError.check({ loss: lossValue, 'gradient norm': gradNorm }, opts.step);
      if (bad) throw bad;
      const scale = opts.clipNorm === undefined ? 1 : clipScale(gradNorm, opts.clipNorm);
      opts.optimizer.step(scaleGrads(grads, scale), opts.lr);
      return { loss: lossValue, gradNorm };
    });
  } finally {
    acc.reset();
  }
}
