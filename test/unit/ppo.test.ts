// PPO arithmetic (TRL's definitions): KL-penalised rewards, GAE, whitening, the adaptive KL
// controller; the clipped policy and value losses against the same formulas on the host; and
// replicas in two worker threads agreeing with one on PPO and value minibatches.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { presetConfig } from '../../src/core/model/config';
import { CausalLM, initWeights } from '../../src/core/model/transformer';
import { adaptKlCoef, gae, klPenalisedRewards, maskedMoments, maskedWhiten, policyLoss, responseSpans, scaledTokenLogprobs, stateValues, valueLoss, type PolicyBatch, type ValueBatch } from '../../src/core/training/ppo';
import { Rng } from '../../src/core/training/rng';
import { initializeBackend } from '../../src/trainer/backend';
import { ReplicaPool } from '../../src/trainer/parallel';

const close = (a: number, b: number, tol = 1e-5): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe('PPO arithmetic', () => {
  // Two rows, width 5: row 0 has response entries 1..3, row 1 entries 2..4.
  const mask = Float32Array.from([0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);

  it('finds each row\'s response span', () => {
    assert.deepEqual(responseSpans(mask, 2, 5), [{ start: 1, end: 3 }, { start: 2, end: 4 }]);
    assert.deepEqual(responseSpans(new Float32Array(5), 1, 5), [{ start: -1, end: -1 }]);
  });

  it('penalises KL per token and adds the score on the last response token', () => {
    const lp = Float32Array.from([0, -1, -2, -3, 0, 0, 0, -1, -1, -1]);
    const ref = Float32Array.from([0, -1.5, -2, -2, 9, 9, 9, -2, -1, -0.5]);
    const r = klPenalisedRewards(lp, ref, mask, [2, -1], 2, 5, 0.1);
    // Row 0: kl per token 0.5, 0, -1 → sum -0.5; row 1: 1, 0, -0.5 → 0.5.
    assert.ok(close(r.kl[0]!, -0.5) && close(r.kl[1]!, 0.5));
    assert.ok(close(r.nonScore[0]!, 0.05) && close(r.nonScore[1]!, -0.05));
    const want = [0, -0.05, 0, 0.1 + 2, 0, 0, 0, -0.1, 0, 0.05 - 1];
    want.forEach((w, i) => assert.ok(close(r.rewards[i]!, w), `reward ${i}: ${r.rewards[i]} vs ${w}`));
  });

  it('computes GAE backwards over the response, with returns = advantages + values', () => {
    const rewards = Float32Array.from([0, 1, 0, 2, 0, 0, 0, 0.5, 0.5, 0.5]);
    const values = Float32Array.from([0, 0.5, 0.2, 0.1, 0, 0, 0, 1, 1, 1]);
    const gamma = 0.9;
    const lam = 0.8;
    const { advantages, returns } = gae(rewards, values, mask, 2, 5, gamma, lam);
    // By hand, row 0: δ3 = 2 − 0.1; δ2 = 0 + γ·0.1 − 0.2; δ1 = 1 + γ·0.2 − 0.5.
    const d3 = 2 - 0.1;
    const d2 = gamma * 0.1 - 0.2;
    const d1 = 1 + gamma * 0.2 - 0.5;
    const a3 = d3;
    const a2 = d2 + gamma * lam * a3;
    const a1 = d1 + gamma * lam * a2;
    assert.ok(close(advantages[3]!, a3) && close(advantages[2]!, a2) && close(advantages[1]!, a1));
    assert.equal(advantages[0], 0);
    assert.equal(advantages[4], 0);
    for (let i = 0; i < 10; i++) if (mask[i]) assert.ok(close(returns[i]!, advantages[i]! + values[i]!));
    // Row 1: δ4 = 0.5 − 1; δ3 = 0.5 + γ − 1; δ2 likewise.
    const b4 = 0.5 - 1;
    const b3 = 0.5 + gamma - 1 + gamma * lam * b4;
    assert.ok(close(advantages[9]!, b4) && close(advantages[8]!, b3));
  });

  it('whitens over masked entries only (unbiased variance, as TRL)', () => {
    const x = Float32Array.from([100, 1, 2, 3, -100, 7, 7, 4, 5, 6]);
    const w = maskedWhiten(x, mask);
    const m = maskedMoments(w, mask);
    assert.ok(Math.abs(m.mean) < 1e-6);
    assert.ok(close(m.variance, 1, 1e-4));
    assert.equal(w[0], 0);
    assert.equal(w[4], 0);
    const raw = maskedMoments(x, mask);
    assert.ok(close(raw.mean, 3.5) && close(raw.variance, 3.5));
  });

  it('adapts the KL coefficient towards the target, at most ±20 % of the error per horizon', () => {
    assert.ok(adaptKlCoef(0.1, 12, 6, 100) > 0.1);
    assert.ok(adaptKlCoef(0.1, 1, 6, 100) < 0.1);
    assert.ok(close(adaptKlCoef(0.1, 600, 6, 10_000), 0.1 * 1.2));
    assert.ok(close(adaptKlCoef(0.1, 0, 6, 10_000), 0.1 * 0.8));
    assert.equal(adaptKlCoef(0.1, 6, 6, 100), 0.1);
  });
});

describe('PPO losses', () => {
  before(async () => {
    await initializeBackend({ backend: 'cpu' });
  });
  const config = presetConfig('nano');
  const rows = 3;
  const cols = 10;
  const w = cols - 1;
  const ids = Int32Array.from({ length: rows * cols }, (_, i) => (i * 7 + 3) % config.vocabSize);
  const mask = new Float32Array(rows * w).map((_, i) => (i % w >= 3 && i % w < 3 + 3 + (Math.floor(i / w) % 3) ? 1 : 0));
  const norm = mask.reduce((a, x) => a + x, 0);
  const rng = new Rng(3);
  const advantages = new Float32Array(rows * w).map(() => rng.normal());

  it('policy loss equals the clipped surrogate computed on the host, and its diagnostics agree', () => {
    const model = CausalLM.fromWeights(config, initWeights(config, () => rng.normal()));
    const lp = tf.tidy(() => scaledTokenLogprobs(model, tf.tensor2d(ids, [rows, cols], 'int32'), 1).logprobs.dataSync() as Float32Array);
    // Old log-probabilities shifted so that ratios spread on both sides of the clip range.
    const old = lp.map((x, i) => x - 0.4 * Math.sin(i));
    const batch: PolicyBatch = { ids, rows, cols, mask, old, advantages, cliprange: 0.2, norm, temperature: 1 };
    const got = tf.tidy(() => {
      const r = policyLoss(model, batch);
      return { loss: r.loss.dataSync()[0]!, stats: Object.fromEntries(Object.entries(r.stats).map(([k, v]) => [k, v.dataSync()[0]!])) };
    });
    let loss = 0;
    let clipped = 0;
    let approx = 0;
    let ratioSum = 0;
    for (let i = 0; i < lp.length; i++) {
      if (!mask[i]) continue;
      const ratio = Math.exp(lp[i]! - old[i]!);
      const l1 = -advantages[i]! * ratio;
      const l2 = -advantages[i]! * Math.min(1.2, Math.max(0.8, ratio));
      loss += Math.max(l1, l2);
      clipped += l2 > l1 ? 1 : 0;
      approx += 0.5 * (lp[i]! - old[i]!) ** 2;
      ratioSum += ratio;
    }
    assert.ok(close(got.loss, loss / norm, 1e-4), `${got.loss} vs ${loss / norm}`);
    assert.ok(close(got.stats['policy/clipfrac_avg']!, clipped / norm, 1e-6));
    assert.ok(clipped > 0 && clipped < norm, 'some ratios clipped, some not');
    assert.ok(close(got.stats['policy/approxkl_avg']!, approx / norm, 1e-4));
    assert.ok(close(got.stats['val/ratio']!, ratioSum / norm, 1e-4));
    // At ratio 1 the loss is minus the mean advantage.
    const atOne = tf.tidy(() => policyLoss(model, { ...batch, old: lp }).loss.dataSync()[0]!);
    let meanAdv = 0;
    for (let i = 0; i < lp.length; i++) if (mask[i]) meanAdv += advantages[i]!;
    assert.ok(close(atOne, -meanAdv / norm, 1e-4));
    model.dispose();
  });

  it('value loss equals the clipped squared error computed on the host, scaled by its coefficient', () => {
    const weights = initWeights(config, () => rng.normal(), ['value']);
    const model = CausalLM.fromWeights(config, weights);
    const v = tf.tidy(() => stateValues(model, tf.tensor2d(ids, [rows, cols], 'int32')).dataSync() as Float32Array);
    const old = v.map((x, i) => x + 0.3 * Math.cos(i));
    const returns = v.map((x, i) => x + Math.sin(2 * i));
    const batch: ValueBatch = { ids, rows, cols, mask, old, returns, cliprange: 0.2, norm, coef: 0.1 };
    const got = tf.tidy(() => {
      const r = valueLoss(model, batch);
      return { loss: r.loss.dataSync()[0]!, vf: r.stats['loss/value_avg']!.dataSync()[0]!, clip: r.stats['val/clipfrac_avg']!.dataSync()[0]! };
    });
    let sum = 0;
    let clipped = 0;
    for (let i = 0; i < v.length; i++) {
      if (!mask[i]) continue;
      const vc = old[i]! + Math.min(0.2, Math.max(-0.2, v[i]! - old[i]!));
      const e1 = (v[i]! - returns[i]!) ** 2;
      const e2 = (vc - returns[i]!) ** 2;
      sum += Math.max(e1, e2);
      clipped += e2 > e1 ? 1 : 0;
    }
    assert.ok(close(got.vf, (0.5 * sum) / norm, 1e-4));
    assert.ok(close(got.loss, (0.1 * 0.5 * sum) / norm, 1e-4));
    assert.ok(close(got.clip, clipped / norm, 1e-6));
    model.dispose();
  });

  it('two worker replicas take the same PPO and value steps as one (shares add up to the minibatch mean)', async () => {
    await initializeBackend({ backend: 'wasm' });
    const weights = initWeights(config, () => new Rng(9).normal(), ['value']);
    const make = (workers: number): Promise<ReplicaPool> => ReplicaPool.create({ config, weights, heads: ['value'], optimizer: { lr: 1e-3, weightDecay: 0 } }, { workers, backend: 'wasm' });
    const one = await make(1);
    const two = await make(2);
    try {
      const stats1 = await one.tokenStats({ ids, rows, cols, mask }, 1);
      const stats2 = await two.tokenStats({ ids, rows, cols, mask }, 1);
      for (let i = 0; i < stats1.logprobs.length; i++) assert.ok(close(stats1.logprobs[i]!, stats2.logprobs[i]!, 1e-4));
      assert.equal(stats1.entropy.length, rows * w);
      const values1 = await one.values({ ids, rows, cols, mask });
      const values2 = await two.values({ ids, rows, cols, mask });
      for (let i = 0; i < values1.length; i++) assert.ok(close(values1[i]!, values2[i]!, 1e-4));
      const old = stats1.logprobs.map((x, i) => x - 0.1 * Math.sin(i));
      for (let step = 0; step < 2; step++) {
        const p: PolicyBatch = { ids, rows, cols, mask, old, advantages, cliprange: 0.2, norm, temperature: 1 };
        const a = await one.trainStep([{ kind: 'ppo', batch: p }], 1e-3, 1, step);
        const b = await two.trainStep([{ kind: 'ppo', batch: p }], 1e-3, 1, step);
        assert.ok(close(a.loss, b.loss, 1e-4), `policy loss ${a.loss} vs ${b.loss}`);
        assert.ok(close(a.gradNorm, b.gradNorm, 1e-3), `grad norm ${a.gradNorm} vs ${b.gradNorm}`);
        for (const k of Object.keys(a.stats!)) assert.ok(close(a.stats![k]!, b.stats![k]!, 1e-4), `${k}: ${a.stats![k]} vs ${b.stats![k]}`);
        const vb: ValueBatch = { ids, rows, cols, mask, old: values1, returns: values1.map((x, i) => x + Math.cos(i)), cliprange: 0.2, norm, coef: 0.1 };
        const c = await one.trainStep([{ kind: 'value', batch: vb }], 1e-3, 1, step);
        const d = await two.trainStep([{ kind: 'value', batch: vb }], 1e-3, 1, step);
        assert.ok(close(c.loss, d.loss, 1e-4), `value loss ${c.loss} vs ${d.loss}`);
        assert.ok(close(c.stats!['loss/value_avg']!, d.stats!['loss/value_avg']!, 1e-4));
      }
    } finally {
      await one.dispose();
      await two.dispose();
    }
  });
});
