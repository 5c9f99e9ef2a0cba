// Preference-model training details: the better response's rows for the optional LM loss, the
// LM term added to the preference loss on a replica (its gradient included), and accuracy
// against the size of the reward difference.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { presetConfig } from '../../src/core/model/config';
import { CausalLM, initWeights } from '../../src/core/model/transformer';
import { accuracyByMargin, betterRows, preferenceLoss, rewardsAtLast, type PairBatch } from '../../src/core/training/preference';
import { Rng } from '../../src/core/training/rng';
import { initializeBackend } from '../../src/trainer/backend';
import { Replica } from '../../src/trainer/replica';

describe('preference-model training', () => {
  before(async () => {
    await initializeBackend({ backend: 'cpu' });
  });

  // Two pairs, cols 5: pair 0 prefers A (row 0, 4 tokens), pair 1 prefers B (row 3, 3 tokens).
  const batch: PairBatch = {
    ids: Int32Array.from([1, 2, 3, 4, 0, 5, 6, 0, 0, 0, 7, 8, 9, 10, 11, 12, 13, 14, 0, 0]),
    rows: 4, cols: 5, lengths: Int32Array.from([4, 2, 5, 3]), labels: Float32Array.from([0.8, 0.3]),
  };

  it('picks each pair\'s better response with a loss mask over its real tokens', () => {
    const b = betterRows(batch);
    assert.deepEqual([...b.ids], [1, 2, 3, 4, 0, 12, 13, 14, 0, 0]);
    assert.deepEqual([...b.lossMask], [1, 1, 1, 0, 1, 1, 0, 0]);
  });

  it('adds the weighted LM loss of the better responses to the preference loss, gradients included', async () => {
    const config = presetConfig('nano');
    const rng = new Rng(4);
    const weights = initWeights(config, () => rng.normal(), ['reward']);
    const replica = new Replica({ config, weights, heads: ['reward'] });
    const n = replica.layout.total;
    const gPlain = new Float32Array(n);
    const gLm = new Float32Array(n);
    const plain = await replica.gradients({ kind: 'pm', batch }, gPlain);
    const withLm = await replica.gradients({ kind: 'pm', batch: { ...batch, lmWeight: 0.5 } }, gLm);
    const model = CausalLM.fromWeights(config, weights);
    model.addHead('reward', () => 0, weights);
    const b = betterRows(batch);
    const lm = tf.tidy(() => model.lmLoss(tf.tensor2d(b.ids, [2, 5], 'int32'), tf.tensor2d(b.lossMask, [2, 4])).dataSync()[0]!);
    const pref = tf.tidy(() => preferenceLoss(rewardsAtLast(model, batch), tf.tensor1d(batch.labels)).loss.dataSync()[0]!);
    assert.ok(Math.abs(plain.loss - pref) < 1e-5);
    assert.ok(Math.abs(withLm.loss - (pref + 0.5 * lm)) < 1e-4, `${withLm.loss} vs ${pref} + 0.5·${lm}`);
    assert.ok(Math.abs(withLm.stats!['lm_loss']! - lm) < 1e-5);
    assert.deepEqual(withLm.margins!.map((x) => x.toFixed(5)), plain.margins!.map((x) => x.toFixed(5)));
    // The LM term moves the token embedding; the preference loss alone reaches it too, but differently.
    let diff = 0;
    for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(gLm[i]! - gPlain[i]!));
    assert.ok(diff > 1e-4, 'the LM loss contributes to the gradient');
    model.dispose();
    replica.dispose();
  });

  it('scores accuracy against the size of the reward difference', () => {
    const margins = [0.1, -0.2, 0.3, 0.7, -0.8, 1.5, 3, -5, 0.05];
    const labels = [1, 1, 0, 1, 0, 1, 1, 0, 0.5];
    const bins = accuracyByMargin(margins, labels, [0, 0.5, 1, 4]);
    assert.deepEqual(bins.map((b) => [b.lo, b.hi, b.count]), [[0, 0.5, 3], [0.5, 1, 2], [1, 4, 2], [4, Infinity, 1]]);
    // |m| < 0.5: 0.1 right, −0.2 wrong (label 1), 0.3 wrong (label 0) → 1/3.
    assert.ok(Math.abs(bins[0]!.accuracy - 1 / 3) < 1e-12);
    assert.equal(bins[1]!.accuracy, 1);
    assert.equal(bins[2]!.accuracy, 1);
    assert.equal(bins[3]!.accuracy, 1);
  });
});
