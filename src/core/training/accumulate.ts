// Gradient accumulation over micro-batches: the weighted mean of several gradient maps, kept as
// running sums on the device so that only one batch's activations live at a time.

import * as tf from '@tensorflow/tfjs-core';

/**
 * Ownership: `add` takes over the tensors it is given (it disposes them, or keeps one as a
 * running sum); the sums belong to the accumulator and survive an enclosing `tf.tidy` until
 * `reset`, even when `add` runs inside one. `mean` returns new tensors that belong to the caller
 * (an enclosing `tf.tidy` frees them as usual).
 */
export class GradAccumulator {
  private sums = new Map<string, tf.Tensor>();
  private n = 0;
  private weightSum = 0;

  /** How many gradient maps have been added since the last reset. */
  get count(): number {
    return this.n;
  }

  /** Total weight added since the last reset. */
  get totalWeight(): number {
    return this.weightSum;
  }

  /**
   * Adds `weight`·grads to the sums. For micro-batches whose losses are means, weight each by
   * its number of examples (or 1 when all are the same size) to get the full-batch gradient.
   */
  add(grads: Map<string, tf.Tensor>, weight = 1): void {
    if (!(weight > 0) || !Number.isFinite(weight)) throw new Error(`accumulation weight must be positive and finite (got ${weight})`);
    if (this.n > 0) {
      for (const name of grads.keys()) if (!this.sums.has(name)) throw new Error(`gradient '${name}' was not in the earlier micro-batches`);
      for (const name of this.sums.keys()) if (!grads.has(name)) throw new Error(`gradient '${name}' is missing from this micro-batch`);
    }
    for (const [name, g] of grads) {
      const prev = this.sums.get(name);
      if (!prev && weight === 1) {
        // The first micro-batch's gradient becomes the running sum as it is.
        this.sums.set(name, tf.keep(g));
        continue;
      }
      const next = tf.keep(tf.tidy(() => {
        const wg = weight === 1 ? g : tf.mul(g, tf.scalar(weight));
        return prev ? tf.add(prev, wg) : wg;
      }));
      prev?.dispose();
      g.dispose();
      this.sums.set(name, next);
    }
    this.n++;
    this.weightSum += weight;
  }

  /** Σ wᵢ·gᵢ / Σ wᵢ for each parameter, as new tensors. */
  mean(): Map<string, tf.Tensor> {
    if (this.n === 0) throw new Error('no gradients accumulated');
    const names = [...this.sums.keys()];
    // Returned from the tidy rather than kept, so that an enclosing tidy still frees them.
    const means = tf.tidy(() => {
      const inv = tf.scalar(1 / this.weightSum);
      return names.map((name) => tf.mul(this.sums.get(name) as tf.Tensor, inv));
    });
    return new Map(names.map((name, i) => [name, means[i] as tf.Tensor]));
  }

  /** Frees the sums and starts over. */
  reset(): void {
    for (const s of this.sums.values()) s.dispose();
    this.sums = new Map();
    this.n = 0;
    this.weightSum = 0;
  }
}
