// AdamW with decoupled weight decay (Loshchilov & Hutter), written with tfjs ops and following
// PyTorch's torch.optim.AdamW step for step:
//   p ← p − lr·wd·p
//   m ← β1·m + (1 − β1)·g            v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
// The last line is computed in the equivalent form  p − lr·√(1−β2ᵗ)/(1−β1ᵗ) · m / (√v + ε·√(1−β2ᵗ)),
// one op fewer per parameter; each op costs a dispatch on the WASM backend.

import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor, WeightMap } from '../model/config.js';

export interface AdamWOptions {
  /** Base rate, used when `step` is called without one. */
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  readonly weightDecay?: number;
  /** Parameters exempt from weight decay. Default: 1-D parameters (biases, norm gains and shifts). */
  readonly noDecay?: (name: string) => boolean;
}

/** What a checkpoint stores for the optimizer. */
export interface AdamWState {
  /** Updates taken so far (t of the bias correction). */
  readonly step: number;
  readonly m: WeightMap;
  readonly v: WeightMap;
}

interface Slot {
  readonly param: tf.Variable;
  readonly m: tf.Variable;
  readonly v: tf.Variable;
  readonly decay: boolean;
}

export class AdamW {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly slots = new Map<string, Slot>();
  private t = 0;
  private disposed = false;

  /** The moments are allocated here, zero, one pair per parameter; `dispose` frees them. */
  constructor(params: Map<string, tf.Variable>, opts: AdamWOptions) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    const check = (name: string, v: number, lo: number, hi: number, hiOpen: boolean): void => {
      if (!(v >= lo && (hiOpen ? v < hi : v <= hi))) throw new Error(`AdamW ${name} must be in [${lo}, ${hi}${hiOpen ? ')' : ']'} (got ${v})`);
    };
    check('lr', this.lr, 0, Infinity, false);
    check('beta1', this.beta1, 0, 1, true);
    check('beta2', this.beta2, 0, 1, true);
    check('eps', this.eps, 0, Infinity, false);
    check('weightDecay', this.weightDecay, 0, Infinity, false);
    const noDecay = opts.noDecay ?? ((name: string) => (params.get(name)?.rank ?? 0) <= 1);
    for (const [name, param] of params) {
      const [m, v] = tf.tidy(() => [tf.zerosLike(param).variable(false), tf.zerosLike(param).variable(false)]);
      this.slots.set(name, { param, m: m as tf.Variable, v: v as tf.Variable, decay: !noDecay(name) });
    }
  }

  /** Updates taken so far. */
  get stepCount(): number {
    return this.t;
  }

  /**
   * One update. `grads` are keyed like the parameters; a parameter with no gradient is left
   * alone this step (no decay either), as PyTorch does for a parameter whose grad is None. The
   * gradients are only read: the caller still owns them.
   */
  step(grads: Map<string, tf.Tensor>, lr: number = this.lr): void {
    this.assertLive();
    for (const name of grads.keys()) if (!this.slots.has(name)) throw new Error(`AdamW: gradient for unknown parameter '${name}'`);
    const t = this.t + 1;
    const bc1 = 1 - Math.pow(this.beta1, t);
    const sqrtBc2 = Math.sqrt(1 - Math.pow(this.beta2, t));
    tf.tidy(() => {
      // Scalars shared by every parameter this step.
      const b1 = tf.scalar(this.beta1);
      const oneMinusB1 = tf.scalar(1 - this.beta1);
      const b2 = tf.scalar(this.beta2);
      const oneMinusB2 = tf.scalar(1 - this.beta2);
      const epsHat = tf.scalar(this.eps * sqrtBc2);
      const stepSize = tf.scalar((lr * sqrtBc2) / bc1);
      const decayFactor = tf.scalar(1 - lr * this.weightDecay);
      const decays = this.weightDecay !== 0 && lr !== 0;
      for (const [name, g] of grads) {
        const slot = this.slots.get(name) as Slot;
        if (!tf.util.arraysEqual(g.shape, slot.param.shape)) {
          throw new Error(`AdamW: gradient for '${name}' has shape [${g.shape.join(', ')}], parameter has [${slot.param.shape.join(', ')}]`);
        }
        const m = tf.add(tf.mul(slot.m, b1), tf.mul(g, oneMinusB1));
        const v = tf.add(tf.mul(slot.v, b2), tf.mul(tf.square(g), oneMinusB2));
        const update = tf.mul(tf.div(m, tf.add(tf.sqrt(v), epsHat)), stepSize);
        const base = slot.decay && decays ? tf.mul(slot.param, decayFactor) : slot.param;
        slot.param.assign(tf.sub(base, update));
        slot.m.assign(m);
        slot.v.assign(v);
      }
    });
    this.t = t;
  }

  /** Host copies of the moments and the step count, for a checkpoint. */
  async state(): Promise<AdamWState> {
    this.assertLive();
    const m: WeightMap = new Map();
    const v: WeightMap = new Map();
    const t = this.t;
    const host = async (x: tf.Variable): Promise<HostTensor> => ({ shape: [...x.shape], data: Float32Array.from((await x.data()) as Float32Array) });
    for (const [name, slot] of this.slots) {
      m.set(name, await host(slot.m));
      v.set(name, await host(slot.v));
    }
    return { step: t, m, v };
  }

  /** Restores what `state` returned; every parameter must be present with its shape. */
  loadState(s: AdamWState): void {
    this.assertLive();
    if (!Number.isInteger(s.step) || s.step < 0) throw new Error(`AdamW state: step must be a non-negative integer (got ${s.step})`);
    for (const which of ['m', 'v'] as const) {
      const map = s[which];
      for (const name of map.keys()) if (!this.slots.has(name)) throw new Error(`AdamW state: ${which} has unknown parameter '${name}'`);
      for (const [name, slot] of this.slots) {
        const h = map.get(name);
        if (!h) throw new Error(`AdamW state: ${which} lacks parameter '${name}'`);
        const size = h.shape.reduce((a, b) => a * b, 1);
        if (!tf.util.arraysEqual([...h.shape], slot.param.shape) || h.data.length !== size) {
          throw new Error(`AdamW state: ${which} of '${name}' has shape [${h.shape.join(', ')}], parameter has [${slot.param.shape.join(', ')}]`);
        }
      }
    }
    tf.tidy(() => {
      for (const [name, slot] of this.slots) {
        slot.m.assign(tf.tensor(Float32Array.from((s.m.get(name) as HostTensor).data), slot.param.shape, 'float32'));
        slot.v.assign(tf.tensor(Float32Array.from((s.v.get(name) as HostTensor).data), slot.param.shape, 'float32'));
      }
    });
    this.t = s.step;
  }

  /** Frees the moments; the parameters belong to the caller and are left alone. */
  dispose(): void {
    if (this.disposed) return;
    for (const slot of this.slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
    }
    this.slots.clear();
    this.disposed = true;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('AdamW: used after dispose()');
  }
}
