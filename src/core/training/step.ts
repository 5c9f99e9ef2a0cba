// One training step, independent of the model: gradients of a scalar loss with respect to the
// parameters (optionally accumulated over micro-batches), the global gradient norm, the NaN/Inf
// guard, clipping and the AdamW update. Per step one read comes back to the host: the loss, the
// gradient norm and whatever else the caller logs (e.g. reward margins), packed into one tensor.
// The read is asynchronous, so a step runs on backends that cannot read synchronously (WebGPU
// under Node); everything else stays on the device.

import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node entry point registers no gradient functions; training needs all of them.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { GradAccumulator } from './accumulate.js';
import { clipScale, globalNorm, scaleGrads, sumScalars } from './clip.js';
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
  /**
   * Tensors to read back with the loss and the norm, in the same read (called once the losses
   * have run). They belong to the caller, who disposes them.
   */
  readonly readAlso?: () => tf.Tensor[];
  /** Fault injection (tests of the NaN guard): the loss reads as NaN. */
  readonly poison?: boolean;
}

export interface TrainStepResult {
  /** The step's loss (mean over micro-batches). */
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  /** The values of `readAlso`'s tensors, flattened, in order. */
  readonly also: Float32Array[];
}

/**
 * Runs one optimisation step. Throws `NonFiniteError` when the loss or the gradient norm is NaN
 * or infinite; the check happens before any update, so the weights and the optimizer state are
 * untouched. Every intermediate tensor is freed, on success and on error.
 */
export async function trainStep(opts: TrainStepOptions): Promise<TrainStepResult> {
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
  let grads: Map<string, tf.Tensor> | undefined;
  let packed: tf.Tensor | undefined;
  let sizes: number[] = [];
  try {
    const kept = tf.tidy(() => {
      let loss: tf.Scalar;
      let g: Map<string, tf.Tensor>;
      if (accumulate === 1) {
        ({ value: loss, grads: g } = gradsOf(opts.lossFn));
      } else {
        const microLoss = opts.microLoss as (i: number) => tf.Scalar;
        const losses: tf.Scalar[] = [];
        for (let i = 0; i < accumulate; i++) {
          const r = gradsOf(() => microLoss(i));
          losses.push(r.value);
          acc.add(r.grads, 1);
        }
        loss = tf.div(sumScalars(losses), accumulate) as tf.Scalar;
        g = acc.mean();
        acc.reset();
      }
      const extra = opts.readAlso?.() ?? [];
      sizes = extra.map((t) => t.size);
      const flat = [tf.reshape(loss, [1]), tf.reshape(globalNorm(g), [1]), ...extra.map((t) => tf.reshape(tf.cast(t, 'float32'), [-1]))];
      return { names: [...g.keys()], tensors: [...g.values()], packed: tf.concat(flat) };
    });
    grads = new Map(kept.names.map((n, i) => [n, kept.tensors[i] as tf.Tensor]));
    packed = kept.packed;
    const host = (await packed.data()) as Float32Array;
    const lossValue = opts.poison ? NaN : (host[0] as number);
    const gradNorm = host[1] as number;
    const bad = NonFiniteError.check({ loss: lossValue, 'gradient norm': gradNorm }, opts.step);
    if (bad) throw bad;
    const scale = opts.clipNorm === undefined ? 1 : clipScale(gradNorm, opts.clipNorm);
    const g = grads;
    tf.tidy(() => opts.optimizer.step(scaleGrads(g, scale), opts.lr));
    const also: Float32Array[] = [];
    let o = 2;
    for (const n of sizes) {
      also.push(host.slice(o, o + n));
      o += n;
    }
    return { loss: lossValue, gradNorm, also };
  } finally {
    acc.reset();
    for (const t of grads?.values() ?? []) t.dispose();
    packed?.dispose();
  }
}
