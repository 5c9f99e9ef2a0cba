// The engine's training and job runners: no tensor leaks over 100 steps, determinism, the
// NaN/Inf guard, two worker threads agreeing with one, resume from checkpoints, saved models that
// load back here and in PyTorch, EOS handling.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { presetConfig } from '../../src/core/model/config';
import { generate } from '../../src/core/model/generate';
import { CausalLM, initWeights } from '../../src/core/model/transformer';
import { Rng } from '../../src/core/training/rng';
import type { JobProgress } from '../../src/trainer/jobs';
import { initializeBackend } from '../../src/trainer/backend';
import { runTrainLm, sampleWindows } from '../../src/trainer/engine';
import { loadHfFolder } from '../../src/trainer/hfFolder';
import { ReplicaPool } from '../../src/trainer/parallel';
import type { TrainLmParams } from '../../src/protocol/trainer';
import { calibration, pairAccuracy, type PairBatch } from '../../src/core/training/preference';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'models');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'cai-engine-'));
}

function context(opts: { stopAfter?: number } = {}): { ctx: Parameters<typeof runTrainLm>[1]; losses: number[]; logs: string[] } {
  const losses: number[] = [];
  const logs: string[] = [];
  let stop: 'checkpoint' | undefined;
  const ctx = {
    jobId: 'test',
    token: { isCancellationRequested: false, onCancellationRequested: () => ({ dispose: () => undefined }) },
    stopRequested: () => stop,
    throwIfCancelled: () => undefined,
    progress: (p: JobProgress) => {
      if (p.stage === 'train' && p.metrics['loss'] !== undefined) {
        losses.push(p.metrics['loss']);
        if (opts.stopAfter !== undefined && losses.length >= opts.stopAfter) stop = 'checkpoint';
      }
    },
    log: (_level: string, m: string) => void logs.push(m),
  };
  return { ctx, losses, logs };
}

function corpus(dir: string): string {
  const file = path.join(dir, 'train.jsonl');
  const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ text: `Human: request ${i % 7}? Assistant: the answer ${(i * 13) % 11} is safe and helpful.` }));
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function trainParams(dir: string, over: Partial<TrainLmParams> = {}): TrainLmParams {
  return {
    model: { preset: 'nano' }, data: { path: corpus(dir), format: 'jsonl-text' }, steps: 6, batchSize: 4, seqLen: 32, lr: 3e-3,
    schedule: { kind: 'linear-warmup', warmupSteps: 2 }, weightDecay: 0.01, clipNorm: 1, accumulate: 1, seed: 7,
    checkpointDir: path.join(dir, 'ckpt'), checkpointEvery: 3, keepLast: 2, ...over,
  };
}

describe('engine (wasm)', () => {
  before(async () => {
    const report = await initializeBackend({ backend: 'wasm' });
    assert.equal(report.backend, 'wasm');
    assert.ok(report.selfTest.ok);
  });

  it('keeps the tensor count flat over 100 training steps', async () => {
    const config = presetConfig('nano');
    const rng = new Rng(3);
    const pool = await ReplicaPool.create({ config, weights: initWeights(config, () => rng.normal()), optimizer: { lr: 1e-3, weightDecay: 0.01 } }, { workers: 1, backend: 'wasm' });
    const tokens = Int32Array.from({ length: 4000 }, (_, i) => (i * 31) % config.vocabSize);
    const counts: number[] = [];
    const losses: number[] = [];
    for (let step = 0; step < 100; step++) {
      const r = await pool.trainStep([sampleWindows(tokens, 4, 33, rng)], 1e-3, 1, step);
      losses.push(r.loss);
      counts.push(tf.memory().numTensors);
    }
    await pool.dispose();
    assert.equal(counts[99], counts[0], `tensors after step 1: ${counts[0]}, after step 100: ${counts[99]}`);
    assert.ok(losses[99]! < losses[0]! * 0.6, `loss fell from ${losses[0]} to ${losses[99]}`);
  });

  it('gives identical losses for the same seed, and two worker threads agree with one', async () => {
    const a = tmp();
    const b = tmp();
    const r1 = context();
    const r2 = context();
    await runTrainLm(trainParams(a), r1.ctx);
    await runTrainLm(trainParams(b), r2.ctx);
    assert.deepEqual(r1.losses, r2.losses);
    // Two replicas split every batch; the mean gradient is the same up to float summation order.
    const config = presetConfig('nano');
    const rng = new Rng(5);
    const weights = initWeights(config, () => rng.normal());
    const one = await ReplicaPool.create({ config, weights, optimizer: { lr: 1e-3, weightDecay: 0.01 } }, { workers: 1, backend: 'wasm' });
    const two = await ReplicaPool.create({ config, weights, optimizer: { lr: 1e-3, weightDecay: 0.01 } }, { workers: 2, backend: 'wasm' });
    assert.equal(two.size, 2);
    const tokens = Int32Array.from({ length: 3000 }, (_, i) => (i * 17 + 3) % config.vocabSize);
    for (let step = 0; step < 4; step++) {
      const batch = sampleWindows(tokens, 6, 33, new Rng(step));
      const x = await one.trainStep([batch], 1e-3, 1, step);
      const y = await two.trainStep([batch], 1e-3, 1, step);
      assert.ok(Math.abs(x.loss - y.loss) < 1e-4 * x.loss, `step ${step}: loss ${x.loss} vs ${y.loss}`);
      assert.ok(Math.abs(x.gradNorm - y.gradNorm) < 1e-3 * x.gradNorm, `step ${step}: grad norm ${x.gradNorm} vs ${y.gradNorm}`);
    }
    const w1 = await one.exportWeights();
    const w2 = await two.exportWeights();
    let maxDiff = 0;
    for (const [n, t] of w1) for (let i = 0; i < t.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t.data[i]! - w2.get(n)!.data[i]!));
    assert.ok(maxDiff < 1e-4, `weights differ by ${maxDiff}`);
    await one.dispose();
    await two.dispose();
  });

  it('stops with a checkpoint and resumes to the same losses as an uninterrupted run', async () => {
    const whole = tmp();
    const parts = tmp();
    const full = context();
    const res = await runTrainLm(trainParams(whole, { checkpointEvery: 0 }), full.ctx);
    assert.equal(res.steps, 6);
    const first = context({ stopAfter: 4 });
    const stopped = await runTrainLm(trainParams(parts, { checkpointEvery: 0 }), first.ctx);
    assert.equal(stopped.steps, 4);
    assert.ok(stopped.checkpoint?.endsWith('step-000004'));
    const second = context();
    const done = await runTrainLm(trainParams(parts, { checkpointEvery: 0 }), second.ctx);
    assert.equal(done.steps, 6);
    assert.ok(second.logs.some((l) => l.includes('resuming from')));
    assert.deepEqual([...first.losses, ...second.losses], full.losses);
  });

  it('stops on a non-finite loss with a diagnostic and keeps the last good checkpoint', async () => {
    const dir = tmp();
    const r = context();
    await assert.rejects(runTrainLm(trainParams(dir, { lr: 1e36, weightDecay: 1, clipNorm: 0, steps: 8, checkpointEvery: 1 }), r.ctx), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'nonfinite');
      assert.match(e.message, /(loss|gradient norm) is (NaN|Infinity|-Infinity) at step \d+/);
      assert.match(e.message, /last good checkpoint is .*step-\d+/);
      return true;
    });
  });

  it('saves a trained model as a Hugging Face folder that loads back here and in PyTorch', async (t) => {
    const dir = tmp();
    const r = context();
    const res = await runTrainLm(trainParams(dir, { model: { path: path.join(FIXTURES, 'llama-tiny') }, steps: 3, seqLen: 24, saveTo: path.join(dir, 'model') }), r.ctx);
    assert.equal(res.savedTo, path.join(dir, 'model'));
    const back = await loadHfFolder(res.savedTo!);
    assert.equal(back.config.arch, 'llama');
    assert.ok(back.tokenizer, 'the tokenizer travels with the model');
    const model = CausalLM.fromWeights(back.config, back.weights);
    const ids = [[1, 40, 50, 60, 70, 80]];
    const logits = tf.tidy(() => model.logits(model.forward(tf.tensor2d(ids.flat(), [1, 6], 'int32')).hidden).dataSync() as Float32Array);
    model.dispose();
    let torchOut: string;
    try {
      torchOut = execFileSync(process.env.CAI_PYTHON ?? '/usr/bin/python3', [path.join(__dirname, '..', 'reference', 'roundtrip.py'), res.savedTo!, '--logits-for', JSON.stringify(ids)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      if (process.env.CAI_REQUIRE_TORCH) throw e;
      t.skip(`PyTorch is not available: ${(e as Error).message.split('\n')[0]}`);
      return;
    }
    const want = (JSON.parse(torchOut) as { logits: number[][][] }).logits.flat(2);
    let maxDiff = 0;
    let maxRef = 0;
    want.forEach((w, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(w - logits[i]!));
      maxRef = Math.max(maxRef, Math.abs(w));
    });
    assert.ok(maxDiff / maxRef < 1e-4, `PyTorch logits of the saved model differ by ${maxDiff / maxRef}`);
  });

  it('stops at an EOS only when the model names one', async () => {
    const config = presetConfig('nano');
    const rng = new Rng(2);
    const model = CausalLM.init(config, () => rng.normal());
    const [free] = await generate(model, [[5, 6, 7]], { maxNewTokens: 6, temperature: 0, eosTokenIds: [], rng: new Rng(1) });
    assert.equal(free!.tokens.length, 6);
    assert.equal(free!.finishReason, 'length');
    const eos = free!.tokens[2]!;
    const [stopped] = await generate(model, [[5, 6, 7]], { maxNewTokens: 6, temperature: 0, eosTokenIds: [eos], rng: new Rng(1) });
    assert.equal(stopped!.finishReason, 'eos');
    assert.deepEqual(stopped!.tokens, free!.tokens.slice(0, free!.tokens.indexOf(eos) + 1));
    // A stop string ends a sequence; the text and tokens stop before it.
    const decode = (ids: number[]): string => ids.map((i) => String.fromCharCode(65 + (i % 26))).join('');
    const fullText = decode(free!.tokens);
    const stopAt = fullText.slice(3, 5);
    const [cut] = await generate(model, [[5, 6, 7]], { maxNewTokens: 6, temperature: 0, eosTokenIds: [], stop: [stopAt], decode, rng: new Rng(1) });
    assert.equal(cut!.finishReason, 'stop');
    assert.equal(cut!.text, fullText.slice(0, fullText.indexOf(stopAt)));
    assert.deepEqual(cut!.tokens, free!.tokens.slice(0, fullText.indexOf(stopAt)));
    // Sampling is reproducible from the seed.
    const s1 = await generate(model, [[5, 6, 7]], { maxNewTokens: 8, temperature: 1, topK: 20, topP: 0.9, eosTokenIds: [], rng: new Rng(9) });
    const s2 = await generate(model, [[5, 6, 7]], { maxNewTokens: 8, temperature: 1, topK: 20, topP: 0.9, eosTokenIds: [], rng: new Rng(9) });
    assert.deepEqual(s1, s2);
    // Picking on the device (what GPU backends do) draws the same numbers and picks the same
    // tokens as picking on the host, for greedy decoding and temperature sampling alike.
    const prompts = [[5, 6, 7], [9], [3, 4]];
    for (const temperature of [0, 0.8, 1.3]) {
      const host = await generate(model, prompts, { maxNewTokens: 10, temperature, eosTokenIds: [eos], rng: new Rng(21) });
      const device = await generate(model, prompts, { maxNewTokens: 10, temperature, eosTokenIds: [eos], rng: new Rng(21), sampleOnDevice: true });
      assert.deepEqual(device.map((g) => [g.tokens, g.finishReason]), host.map((g) => [g.tokens, g.finishReason]), `temperature ${temperature}`);
      device.forEach((g, i) => g.logprobs.forEach((lp, j) => assert.ok(Math.abs(lp - host[i]!.logprobs[j]!) < 1e-4, `logprob ${lp} vs ${host[i]!.logprobs[j]}`)));
    }
    model.dispose();
  });

  it('scalar heads on the trunk: a reward head learns a preference, a value head scores every token', async () => {
    const config = presetConfig('nano');
    const rng = new Rng(4);
    const model = CausalLM.init(config, () => rng.normal(), ['reward', 'value']);
    assert.ok(model.hasHead('reward') && model.hasHead('value'));
    const good = tf.tensor2d([[1, 2, 3, 4, 5, 6]], [1, 6], 'int32');
    const bad = tf.tensor2d([[1, 2, 3, 9, 9, 9]], [1, 6], 'int32');
    const last = (ids: tf.Tensor2D): tf.Tensor1D => tf.slice(model.head(model.forward(ids).hidden, 'reward'), [5], [1]) as tf.Tensor1D;
    const margin = (): number => tf.tidy(() => tf.sub(last(good), last(bad)).dataSync()[0]!);
    const before = margin();
    const vars = [...model.params.values()];
    for (let i = 0; i < 30; i++) {
      tf.tidy(() => {
        // Preference-model loss: -log σ(r_good - r_bad) = softplus(r_bad - r_good).
        const { grads } = tf.variableGrads(() => tf.mean(tf.softplus(tf.neg(tf.sub(last(good), last(bad))))) as tf.Scalar, vars);
        for (const v of vars) if (grads[v.name]) v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.05)));
      });
    }
    assert.ok(margin() > before + 1, `margin ${before} → ${margin()}`);
    const values = tf.tidy(() => model.head(model.forward(good).hidden, 'value').dataSync());
    assert.equal(values.length, 6);
    const saved = await model.exportWeights();
    assert.ok(saved.has('reward.w') && saved.has('value.b'));
    good.dispose();
    bad.dispose();
    model.dispose();
  });

  it('auto reports every backend it passed over, and falls back when a self-test fails', async () => {
    const order = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'];
    const auto = await initializeBackend({ backend: 'auto' });
    const chosen = order.indexOf(auto.backend);
    assert.ok(chosen >= 0);
    assert.deepEqual(auto.fallbacks.map((f) => f.backend), order.slice(0, chosen));
    for (const f of auto.fallbacks) assert.ok(f.error.length > 0);
    assert.match(auto.reason, /^auto: /);
    assert.equal(auto.nodeVersion, process.version);
    assert.equal(auto.tfjsVersion, tf.version_core);
    const broken = await initializeBackend({ backend: 'auto' }, { corruptSelfTest: ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm'] });
    assert.equal(broken.backend, 'cpu');
    assert.match(broken.fallbacks.find((f) => f.backend === 'wasm')!.error, /^self-test failed: /);
    await assert.rejects(initializeBackend({ backend: 'wasm' }, { corruptSelfTest: ['wasm'] }), /no usable backend for 'wasm': wasm: self-test failed/);
    await initializeBackend({ backend: 'wasm' });
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('trains a preference model with soft labels; two workers agree with one and keep pair order', async () => {
    const config = presetConfig('nano');
    const rng = new Rng(8);
    const weights = initWeights(config, () => rng.normal(), ['reward']);
    // Pair i: one response contains token 7 ("good"), the other token 9; A is the good one on even i.
    const makeBatch = (seed: number, pairs: number): PairBatch => {
      const r = new Rng(seed);
      const cols = 12;
      const ids = new Int32Array(2 * pairs * cols);
      const lengths = new Int32Array(2 * pairs);
      const labels = new Float32Array(pairs);
      for (let i = 0; i < pairs; i++) {
        const aGood = i % 2 === 0;
        for (const [row, good] of [[2 * i, aGood], [2 * i + 1, !aGood]] as const) {
          const len = 6 + r.nextInt(6);
          lengths[row] = len;
          for (let t = 0; t < len; t++) ids[row * cols + t] = 20 + r.nextInt(50);
          ids[row * cols + r.nextInt(len)] = good ? 7 : 9;
        }
        labels[i] = aGood ? 0.9 : 0.1;
      }
      return { ids, rows: 2 * pairs, cols, lengths, labels };
    };
    const one = await ReplicaPool.create({ config, weights, heads: ['reward'], optimizer: { lr: 3e-3, weightDecay: 0 } }, { workers: 1, backend: 'wasm' });
    const two = await ReplicaPool.create({ config, weights, heads: ['reward'], optimizer: { lr: 3e-3, weightDecay: 0 } }, { workers: 2, backend: 'wasm' });
    const evalBatch = makeBatch(999, 16);
    const before = pairAccuracy(await one.margins(evalBatch), evalBatch.labels);
    for (let step = 0; step < 25; step++) {
      const b = makeBatch(step, 8);
      const x = await one.trainStep([{ kind: 'pm', batch: b }], 3e-3, 1, step);
      const y = await two.trainStep([{ kind: 'pm', batch: b }], 3e-3, 1, step);
      assert.equal(x.margins!.length, 8);
      assert.equal(y.margins!.length, 8);
      // Before the first update both see the same weights: same margins, in the same pair order.
      // (Later the replicas' summation order lets Adam's normalised steps drift apart.)
      if (step === 0) x.margins!.forEach((m, i) => assert.ok(Math.abs(m - y.margins![i]!) < 1e-4 * Math.max(1, Math.abs(m)), `pair ${i}: ${m} vs ${y.margins![i]}`));
    }
    assert.ok(pairAccuracy(await one.margins(evalBatch), evalBatch.labels) >= 0.9);
    const after = pairAccuracy(await two.margins(evalBatch), evalBatch.labels);
    assert.ok(after >= 0.9 && after > before, `held-out accuracy ${before} → ${after}`);
    const cal = calibration(await one.margins(evalBatch), evalBatch.labels);
    assert.equal(cal.bins.reduce((a, b) => a + b.count, 0), 16);
    assert.ok(cal.ece >= 0 && cal.ece <= 1);
    await one.dispose();
    await two.dispose();
  });
});

