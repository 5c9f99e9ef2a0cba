// The engine's transformers against the PyTorch reference (test/reference): logits, loss and
// gradients of random-weight Hugging Face folders written by make_fixtures.py, KV-cache decoding
// against full recomputation, greedy tokens — on the pure-JS and the WASM backend.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, before } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initializeBackend, embeddingGradMode } from '../../src/trainer/backend';
import { loadHfFolder } from '../../src/trainer/hfFolder';
import { CausalLM } from '../../src/core/model/transformer';
import { generate, scoreContinuations } from '../../src/core/model/generate';
import { weightsFromHf } from '../../src/core/model/hfWeights';
import { parseSafetensors } from '../../src/core/model/safetensors';
import { Rng } from '../../src/core/training/rng';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'models');
const FOLDERS = ['gpt2-tiny', 'llama-tiny', 'llama-tiny-sharded', 'qwen2-tiny'];

interface Expected {
  input_ids: number[][];
  logits: number[][][];
  greedy: { prompt: number[]; new_tokens: number[] };
  loss: number;
}

function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    maxRef = Math.max(maxRef, Math.abs(want[i]!));
  }
  return maxDiff / maxRef;
}

async function load(name: string): Promise<{ model: CausalLM; expected: Expected }> {
  const dir = path.join(FIXTURES, name);
  const { config, weights } = await loadHfFolder(dir);
  const model = CausalLM.fromWeights(config, weights);
  model.embeddingGrad = embeddingGradMode();
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
  return { model, expected };
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`transformers match PyTorch (${backend})`, () => {
    before(async () => {
      await initializeBackend({ backend });
    });

    for (const name of FOLDERS) {
      it(`${name}: logits within 1e-4 relative error`, async () => {
        const { model, expected } = await load(name);
        const [B, T] = [expected.input_ids.length, expected.input_ids[0]!.length];
        const logits = tf.tidy(() => model.logits(model.forward(tf.tensor2d(expected.input_ids.flat(), [B, T], 'int32')).hidden));
        const err = maxRelErr(logits.dataSync(), expected.logits.flat(2));
        logits.dispose();
        model.dispose();
        assert.ok(err < 1e-4, `max relative error ${err}`);
      });

      it(`${name}: KV-cache decoding equals full recomputation; greedy tokens equal PyTorch's`, async () => {
        const before = tf.memory().numTensors;
        const { model, expected } = await load(name);
        const [g] = await generate(model, [expected.greedy.prompt], { maxNewTokens: expected.greedy.new_tokens.length, temperature: 0, eosTokenIds: [], rng: new Rng(1) });
        assert.deepEqual(g!.tokens, expected.greedy.new_tokens);
        // The cached log-probabilities equal those of one full forward pass over prompt + output.
        const full = [...expected.greedy.prompt, ...g!.tokens];
        const [scored] = await scoreContinuations(model, expected.greedy.prompt, [g!.tokens]);
        assert.ok(maxRelErr(g!.logprobs, scored!.logprobs) < 1e-4, `cache ${g!.logprobs} vs full ${scored!.logprobs}`);
        assert.equal(full.length, expected.greedy.prompt.length + expected.greedy.new_tokens.length);
        // Left padding in a batch changes nothing.
        const [, padded] = await generate(model, [[...expected.greedy.prompt, 5, 6, 7], expected.greedy.prompt], { maxNewTokens: 4, temperature: 0, eosTokenIds: [], rng: new Rng(1) });
        assert.deepEqual(padded!.tokens, expected.greedy.new_tokens.slice(0, 4));
        model.dispose();
        assert.equal(tf.memory().numTensors, before, 'generation leaves no tensors behind');
      });
    }

    for (const name of ['gpt2-tiny', 'llama-tiny']) {
      it(`${name}: loss and gradients within 1e-3`, async () => {
        const { model, expected } = await load(name);
        const dir = path.join(FIXTURES, name);
        const hfGrads = parseSafetensors(new Uint8Array(fs.readFileSync(path.join(dir, 'expected_grads.safetensors'))), 'expected_grads.safetensors');
        const want = weightsFromHf(model.config, hfGrads, () => 'expected_grads.safetensors');
        const [B, T] = [expected.input_ids.length, expected.input_ids[0]!.length];
        const ids = tf.tensor2d(expected.input_ids.flat(), [B, T], 'int32');
        const vars = [...model.params.values()];
        const { value, grads } = tf.variableGrads(() => model.lmLoss(ids), vars);
        assert.ok(Math.abs(value.dataSync()[0]! - expected.loss) < 1e-4 * expected.loss, `loss ${value.dataSync()[0]} vs ${expected.loss}`);
        for (const [pname, v] of model.params) {
          const g = grads[v.name]!;
          const err = maxRelErr(g.dataSync(), want.get(pname)!.data);
          assert.ok(err < 1e-3, `gradient of ${pname}: relative error ${err}`);
        }
        value.dispose();
        ids.dispose();
        for (const g of Object.values(grads)) g.dispose();
        model.dispose();
      });
    }
  });
}
