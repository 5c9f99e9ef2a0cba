import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { headShapes, parameterShapes, presetConfig, type HostTensor, type ModelConfig, type WeightMap } from '../../src/core/model/config.js';
import { ModelFileError } from '../../src/core/model/errors.js';
import { configFromHf, configToHf, SUPPORTED_HF_FIELDS } from '../../src/core/model/hfConfig.js';
import { weightsFromHf, weightsToHf } from '../../src/core/model/hfWeights.js';
import { loadHfFolder, saveHfFolder } from '../../src/trainer/hfFolder.js';

const repoRoot = path.resolve(__dirname, '../..');
const fixtures = path.join(repoRoot, 'test/fixtures/models');
const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'hfload-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function randomWeights(c: ModelConfig, seed = 1, heads = false): WeightMap {
  const r = rng(seed);
  const out: WeightMap = new Map();
  const shapes = new Map(parameterShapes(c));
  if (heads) for (const h of ['reward', 'value'] as const) for (const [k, v] of headShapes(c, h)) shapes.set(k, v);
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = r();
    out.set(name, { shape, data });
  }
  return out;
}

function assertSameWeights(a: WeightMap, b: WeightMap, tol = 0): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, t] of a) {
    const u = b.get(name)!;
    assert.deepEqual([...u.shape], [...t.shape], name);
    for (let i = 0; i < t.data.length; i++) {
      if (Math.abs(t.data[i]! - u.data[i]!) > tol) assert.fail(`${name}[${i}]: ${t.data[i]} vs ${u.data[i]}`);
    }
  }
}

async function expectReject(p: Promise<unknown> | (() => unknown), file: string | RegExp, tensor?: string, pattern?: RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof ModelFileError, `expected ModelFileError, got ${String(e)}`);
    if (typeof file === 'string') assert.equal(e.file, file);
    else assert.match(e.file, file);
    assert.ok(e.message.includes(e.file), e.message);
    if (tensor !== undefined) {
      assert.equal(e.tensor, tensor);
      assert.ok(e.message.includes(tensor), e.message);
    }
    if (pattern) assert.match(e.message, pattern);
    return;
  }
  assert.fail('expected an error');
}

const GPT2_JSON = { model_type: 'gpt2', vocab_size: 300, n_embd: 32, n_layer: 2, n_head: 4, n_positions: 64, n_inner: null, activation_function: 'gelu_pytorch_tanh', bos_token_id: 290, eos_token_id: 290 };
const LLAMA_JSON = {
  model_type: 'llama',
  vocab_size: 300,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 500000,
  hidden_act: 'silu',
  bos_token_id: 1,
  eos_token_id: [2, 3],
};
const QWEN2_JSON = { ...LLAMA_JSON, model_type: 'qwen2', tie_word_embeddings: true, eos_token_id: 2, use_sliding_window: false };

describe('config.json → ModelConfig', () => {
  it('reads GPT-2', () => {
    const c = configFromHf(GPT2_JSON, 'config.json');
    assert.equal(c.arch, 'gpt2');
    assert.equal(c.dFf, 128); // n_inner null → 4 · n_embd
    assert.equal(c.activation, 'gelu_new');
    assert.equal(c.headDim, 8);
    assert.equal(c.maxPositions, 64);
    assert.equal(c.tieEmbeddings, true);
    assert.equal(c.qkvBias && c.projBias, true);
    assert.equal(c.normEps, 1e-5);
    assert.equal(c.bosTokenId, 290);
    assert.deepEqual(c.eosTokenIds, [290]);
    const exact = configFromHf({ ...GPT2_JSON, activation_function: 'gelu', n_positions: undefined, n_ctx: 32, n_inner: 40 }, 'config.json');
    assert.equal(exact.activation, 'gelu');
    assert.equal(exact.maxPositions, 32);
    assert.equal(exact.dFf, 40);
    // GPT-2's default ids (50256) lie outside a small vocabulary and are dropped
    const noIds = configFromHf({ ...GPT2_JSON, bos_token_id: undefined, eos_token_id: undefined }, 'config.json');
    assert.equal(noIds.bosTokenId, undefined);
    assert.deepEqual(noIds.eosTokenIds, []);
  });

  it('reads Llama with grouped-query attention and defaults', () => {
    const c = configFromHf(LLAMA_JSON, 'config.json');
    assert.equal(c.arch, 'llama');
    assert.equal(c.nKvHeads, 2);
    assert.equal(c.headDim, 8);
    assert.equal(c.dFf, 48);
    assert.equal(c.ropeTheta, 500000);
    assert.equal(c.tieEmbeddings, false);
    assert.equal(c.qkvBias, false);
    assert.equal(c.projBias, false);
    assert.equal(c.activation, 'silu');
    assert.deepEqual(c.eosTokenIds, [2, 3]);
    const d = configFromHf({ ...LLAMA_JSON, num_key_value_heads: undefined, rope_theta: undefined, head_dim: 16, rms_norm_eps: undefined }, 'config.json');
    assert.equal(d.nKvHeads, 4);
    assert.equal(d.ropeTheta, 10000);
    assert.equal(d.headDim, 16);
    assert.equal(d.normEps, 1e-6);
  });

  it('reads Qwen2 (query/key/value biases) and Mistral without a sliding window', () => {
    const q = configFromHf(QWEN2_JSON, 'config.json');
    assert.equal(q.arch, 'llama');
    assert.equal(q.qkvBias, true);
    assert.equal(q.projBias, false);
    assert.equal(q.tieEmbeddings, true);
    const m = configFromHf({ ...LLAMA_JSON, model_type: 'mistral', sliding_window: null }, 'config.json');
    assert.equal(m.qkvBias, false);
  });

  const rejections: [string, Record<string, unknown>, string][] = [
    ['an unknown model_type', { ...LLAMA_JSON, model_type: 'bert' }, 'model_type'],
    ['no model_type', { ...LLAMA_JSON, model_type: undefined }, 'model_type'],
    ['scaled RoPE', { ...LLAMA_JSON, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'rope_scaling'],
    ['another activation', { ...LLAMA_JSON, hidden_act: 'gelu' }, 'hidden_act'],
    ['MLP biases', { ...LLAMA_JSON, mlp_bias: true }, 'mlp_bias'],
    ['Llama attention biases', { ...LLAMA_JSON, attention_bias: true }, 'attention_bias'],
    ['a Mistral sliding window', { ...LLAMA_JSON, model_type: 'mistral', sliding_window: 16 }, 'sliding_window'],
    ['a Qwen2 sliding window', { ...QWEN2_JSON, use_sliding_window: true }, 'use_sliding_window'],
    ['a missing width', { ...LLAMA_JSON, hidden_size: undefined }, 'hidden_size'],
    ['a non-integer size', { ...LLAMA_JSON, num_hidden_layers: 2.5 }, 'num_hidden_layers'],
    ['key/value heads that do not divide the heads', { ...LLAMA_JSON, num_key_value_heads: 3 }, 'num_key_value_heads'],
    ['an EOS id outside the vocabulary', { ...LLAMA_JSON, eos_token_id: 300 }, 'eos_token_id'],
    ['a GPT-2 activation we lack', { ...GPT2_JSON, activation_function: 'relu' }, 'activation_function'],
    ['GPT-2 heads that do not divide the width', { ...GPT2_JSON, n_head: 5 }, 'n_head'],
    ['GPT-2 per-layer attention scaling', { ...GPT2_JSON, scale_attn_by_inverse_layer_idx: true }, 'scale_attn_by_inverse_layer_idx'],
  ];
  for (const [what, json, field] of rejections) {
    it(`refuses ${what}, naming config.json and '${field}'`, async () => {
      await expectReject(() => configFromHf(json, '/m/config.json'), '/m/config.json', undefined, new RegExp(`'${field}'`));
    });
  }

  it('refuses a config that is not an object', async () => {
    await expectReject(() => configFromHf([1], 'config.json'), 'config.json');
  });

  it('writes configs back that read the same', () => {
    for (const json of [GPT2_JSON, LLAMA_JSON, QWEN2_JSON]) {
      const c = configFromHf(json, 'config.json');
      const hf = configToHf(c);
      assert.equal(hf['model_type'], json.model_type);
      assert.equal(hf['torch_dtype'], 'float32');
      assert.deepEqual(configFromHf(JSON.parse(JSON.stringify(hf)), 'config.json'), c);
    }
    assert.deepEqual(configToHf(configFromHf(LLAMA_JSON, 'c'))['architectures'], ['LlamaForCausalLM']);
    assert.deepEqual(configToHf(configFromHf(QWEN2_JSON, 'c'))['architectures'], ['Qwen2ForCausalLM']);
    for (const name of ['nano', 'tiny-llama']) {
      const c = presetConfig(name);
      assert.deepEqual(configFromHf(configToHf(c), 'c'), c);
    }
  });

  it('documents every field it reads', () => {
    for (const f of ['model_type', 'n_embd', 'n_inner', 'num_key_value_heads', 'rope_scaling', 'tie_word_embeddings', 'eos_token_id']) {
      assert.ok(SUPPORTED_HF_FIELDS[f], f);
    }
  });
});

describe('HF tensors ↔ WeightMap', () => {
  const gpt2 = configFromHf(GPT2_JSON, 'config.json');
  const llama = configFromHf(LLAMA_JSON, 'config.json');
  const qwen2 = configFromHf(QWEN2_JSON, 'config.json');
  const file = (): string => 'model.safetensors';

  for (const [name, c] of [['gpt2', gpt2], ['llama (GQA)', llama], ['qwen2', qwen2]] as const) {
    it(`round-trips ${name}, heads included`, () => {
      const w = randomWeights(c, 7, true);
      const hf = weightsToHf(c, w);
      assertSameWeights(weightsFromHf(c, hf, file), w);
    });
  }

  it('keeps GPT-2 Conv1D layout and names', () => {
    const w = randomWeights(gpt2);
    const hf = weightsToHf(gpt2, w);
    assert.ok(hf.has('transformer.h.1.attn.c_attn.weight'));
    assert.ok(!hf.has('lm_head.weight'));
    assert.deepEqual(hf.get('transformer.h.0.attn.c_attn.weight')!.shape, [32, 96]);
    assert.equal(hf.get('transformer.h.0.mlp.c_fc.weight')!.data, w.get('h.0.mlp.wi')!.data);
  });

  it('accepts GPT-2 without the transformer. prefix and skips mask buffers', () => {
    const hf = new Map<string, HostTensor>();
    for (const [k, v] of weightsToHf(gpt2, randomWeights(gpt2))) hf.set(k.replace(/^transformer\./, ''), v);
    hf.set('h.0.attn.bias', { shape: [1, 1, 64, 64], data: new Float32Array(64 * 64) });
    hf.set('h.0.attn.masked_bias', { shape: [], data: new Float32Array(1) });
    assert.equal(weightsFromHf(gpt2, hf, file).size, parameterShapes(gpt2).size);
  });

  it('transposes Llama Linear weights and fuses [q | k | v] and [gate | up]', () => {
    const D = 32, hd = 8, F = 48;
    const hf = weightsToHf(llama, randomWeights(llama));
    // mark each HF matrix element with its position to check where it lands
    const mark = (name: string, tag: number): void => {
      const t = hf.get(name)!;
      const cols = t.shape[1]!;
      for (let i = 0; i < t.data.length; i++) t.data[i] = tag * 1e6 + Math.floor(i / cols) * 1000 + (i % cols);
    };
    const p = 'model.layers.0';
    mark(`${p}.self_attn.q_proj.weight`, 1);
    mark(`${p}.self_attn.k_proj.weight`, 2);
    mark(`${p}.self_attn.v_proj.weight`, 3);
    mark(`${p}.mlp.gate_proj.weight`, 4);
    mark(`${p}.mlp.up_proj.weight`, 5);
    mark(`${p}.self_attn.o_proj.weight`, 6);
    const w = weightsFromHf(llama, hf, file);
    const qkv = w.get('h.0.attn.wqkv')!;
    const W = (4 + 2 * 2) * hd;
    assert.deepEqual([...qkv.shape], [D, W]);
    const at = (t: HostTensor, r: number, c: number): number => t.data[r * t.shape[1]! + c]!;
    // wqkv[in, out]: query rows 0..31, key rows 0..15, value rows 0..15 of the HF [out, in] matrices
    assert.equal(at(qkv, 5, 7), 1e6 + 7 * 1000 + 5);
    assert.equal(at(qkv, 5, 32 + 3), 2e6 + 3 * 1000 + 5);
    assert.equal(at(qkv, 31, 48 + 15), 3e6 + 15 * 1000 + 31);
    const wi = w.get('h.0.mlp.wi')!;
    assert.deepEqual([...wi.shape], [D, 2 * F]);
    assert.equal(at(wi, 2, 9), 4e6 + 9 * 1000 + 2);
    assert.equal(at(wi, 2, F + 9), 5e6 + 9 * 1000 + 2);
    const wo = w.get('h.0.attn.wo')!;
    assert.equal(at(wo, 20, 3), 6e6 + 3 * 1000 + 20);
    assert.deepEqual([...w.get('lm_head')!.shape], [D, 300]);
  });

  it('concatenates Qwen2 biases in [q | k | v] order', () => {
    const hf = weightsToHf(qwen2, randomWeights(qwen2));
    const q = hf.get('model.layers.1.self_attn.q_proj.bias')!;
    const k = hf.get('model.layers.1.self_attn.k_proj.bias')!;
    const v = hf.get('model.layers.1.self_attn.v_proj.bias')!;
    assert.deepEqual([q.shape[0], k.shape[0], v.shape[0]], [32, 16, 16]);
    const b = weightsFromHf(qwen2, hf, file).get('h.1.attn.bqkv')!;
    assert.deepEqual(Array.from(b.data), [...q.data, ...k.data, ...v.data]);
  });

  it('errors name the file and the tensor', async () => {
    const fileOf = (n: string): string => `shard-of-${n.split('.')[2] ?? 'x'}.safetensors`;
    const good = weightsToHf(llama, randomWeights(llama));

    const missing = new Map(good);
    missing.delete('model.layers.1.mlp.up_proj.weight');
    await expectReject(() => weightsFromHf(llama, missing, fileOf), 'shard-of-1.safetensors', 'model.layers.1.mlp.up_proj.weight', /missing/);

    const wrong = new Map(good);
    wrong.set('model.layers.0.self_attn.k_proj.weight', { shape: [32, 32], data: new Float32Array(32 * 32) });
    await expectReject(() => weightsFromHf(llama, wrong, fileOf), 'shard-of-0.safetensors', 'model.layers.0.self_attn.k_proj.weight', /shape \[32, 32\], expected \[16, 32\]/);

    const extra = new Map(good);
    extra.set('model.layers.0.self_attn.o_proj.bias', { shape: [32], data: new Float32Array(32) });
    await expectReject(() => weightsFromHf(llama, extra, fileOf), 'shard-of-0.safetensors', 'model.layers.0.self_attn.o_proj.bias', /does not have/);

    const buffers = new Map(good);
    buffers.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [4], data: new Float32Array(4) });
    assert.equal(weightsFromHf(llama, buffers, fileOf).size, parameterShapes(llama).size);
  });

  it('ignores a tied lm_head equal to the embedding and refuses one that differs', async () => {
    const hf = weightsToHf(qwen2, randomWeights(qwen2));
    const wte = hf.get('model.embed_tokens.weight')!;
    hf.set('lm_head.weight', { shape: wte.shape, data: wte.data.slice() });
    assert.ok(!weightsFromHf(qwen2, hf, file).has('lm_head'));
    const changed = wte.data.slice();
    changed[17] = 9;
    hf.set('lm_head.weight', { shape: wte.shape, data: changed });
    await expectReject(() => weightsFromHf(qwen2, hf, file), 'model.safetensors', 'lm_head.weight', /tie_word_embeddings/);
  });

  it('refuses to write a WeightMap with a missing or misshapen parameter', async () => {
    const w = randomWeights(gpt2);
    w.delete('h.1.mlp.bo');
    await expectReject(() => weightsToHf(gpt2, w), 'model.safetensors', 'h.1.mlp.bo');
    const v = randomWeights(gpt2);
    v.set('wpe', { shape: [8, 32], data: new Float32Array(256) });
    await expectReject(() => weightsToHf(gpt2, v), 'model.safetensors', 'wpe', /expected \[64, 32\]/);
  });
});

describe('Hugging Face folders on disk', () => {
  const llama = configFromHf(LLAMA_JSON, 'config.json');
  const gpt2 = configFromHf(GPT2_JSON, 'config.json');
  const tokenizerPath = path.join(fixtures, 'llama-tiny', 'tokenizer.json');
  const haveTokenizer = existsSync(tokenizerPath);

  it('saves and loads a single-file model (F32 exact)', async () => {
    const dir = path.join(tmpRoot, 'gpt2');
    const w = randomWeights(gpt2, 3, true);
    const written = await saveHfFolder(dir, gpt2, w, { dtype: 'F32' });
    assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'generation_config.json', 'model.safetensors']);
    assert.equal(written.length, 3);
    const loaded = await loadHfFolder(dir);
    assert.deepEqual(loaded.config, gpt2);
    assertSameWeights(loaded.weights, w);
    assert.equal(loaded.tokenizer, undefined);
    assert.equal(loaded.files.length, 3);
  });

  it('saves F16 weights within half precision', async () => {
    const dir = path.join(tmpRoot, 'llama-f16');
    const w = randomWeights(llama, 4);
    await saveHfFolder(dir, llama, w, { dtype: 'F16' });
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg['torch_dtype'], 'float16');
    assertSameWeights((await loadHfFolder(dir)).weights, w, 2 ** -12);
  });

  it('shards when the weights pass shardBytes, and loads the shards back', { skip: haveTokenizer ? false : 'no tokenizer fixture' }, async () => {
    const dir = path.join(tmpRoot, 'llama-sharded');
    const w = randomWeights(llama, 5);
    const tokenizerJson = readFileSync(tokenizerPath, 'utf8');
    await saveHfFolder(dir, llama, w, { dtype: 'F32', shardBytes: 20_000, tokenizerJson });
    const files = readdirSync(dir).sort();
    const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    assert.ok(shards.length >= 3, files.join(', '));
    assert.ok(files.includes('model.safetensors.index.json'));
    assert.ok(!files.includes('model.safetensors'));
    const index = JSON.parse(readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
    assert.equal(index.metadata.total_size, [...w.values()].reduce((a, t) => a + 4 * t.data.length, 0));
    const loaded = await loadHfFolder(dir);
    assertSameWeights(loaded.weights, w);
    assert.ok(loaded.tokenizer);
    assert.equal(loaded.tokenizer.bosTokenId, 1);
    assert.deepEqual(loaded.tokenizer.eosTokenIds, [2, 3]);
    assert.equal(loaded.files.length, 3 + shards.length + 1);
  });

  it('replaces an earlier save, keeping files it does not write', async () => {
    const dir = path.join(tmpRoot, 'resave');
    await saveHfFolder(dir, llama, randomWeights(llama, 1), { dtype: 'F32', shardBytes: 20_000 });
    writeFileSync(path.join(dir, 'README.md'), 'notes');
    const w = randomWeights(llama, 2);
    await saveHfFolder(dir, llama, w, { dtype: 'F32' });
    assert.deepEqual(readdirSync(dir).sort(), ['README.md', 'config.json', 'generation_config.json', 'model.safetensors']);
    assertSameWeights((await loadHfFolder(dir)).weights, w);
    assert.ok(!readdirSync(tmpRoot).some((f) => f.includes('.tmp-') || f.includes('.old-')));
  });

  it('takes EOS ids from generation_config.json', async () => {
    const dir = path.join(tmpRoot, 'gen');
    await saveHfFolder(dir, llama, randomWeights(llama), { dtype: 'F32' });
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [7, 8] }));
    assert.deepEqual((await loadHfFolder(dir)).config.eosTokenIds, [7, 8]);
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 999 }));
    await expectReject(loadHfFolder(dir), path.join(dir, 'generation_config.json'), undefined, /eos_token_id/);
  });

  it('names the path of a missing folder, config or weights', async () => {
    const nowhere = path.join(tmpRoot, 'nowhere');
    await expectReject(loadHfFolder(nowhere), nowhere, undefined, /does not exist/);
    const empty = path.join(tmpRoot, 'empty');
    await saveHfFolder(empty, gpt2, randomWeights(gpt2), { dtype: 'F32' });
    unlinkSync(path.join(empty, 'model.safetensors'));
    await expectReject(loadHfFolder(empty), empty, undefined, /no model\.safetensors/);
    unlinkSync(path.join(empty, 'config.json'));
    await expectReject(loadHfFolder(empty), path.join(empty, 'config.json'), undefined, /missing/);
  });

  it('names the shard and tensor when a shard is missing or the index is wrong', async () => {
    const dir = path.join(tmpRoot, 'broken-shards');
    await saveHfFolder(dir, llama, randomWeights(llama), { dtype: 'F32', shardBytes: 20_000 });
    const indexPath = path.join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };
    // a tensor whose shard holds others too, so the shard stays in the index when it moves
    const entries = Object.entries(index.weight_map);
    const [firstName, firstShard] = entries.find(([n, s]) => entries.some(([m, t]) => t === s && m !== n))!;
    const otherShard = Object.values(index.weight_map).find((s) => s !== firstShard)!;

    // a tensor the index puts in the wrong shard
    writeFileSync(indexPath, JSON.stringify({ weight_map: { ...index.weight_map, [firstName]: otherShard } }));
    await expectReject(loadHfFolder(dir), path.join(dir, firstShard), firstName, new RegExp(`says it is in ${otherShard}`));

    // a tensor the index lists but no shard holds
    const { [firstName]: _dropped, ...rest } = index.weight_map;
    writeFileSync(indexPath, JSON.stringify({ weight_map: rest }));
    await expectReject(loadHfFolder(dir), path.join(dir, firstShard), firstName, /not in model\.safetensors\.index\.json/);

    // a missing shard file
    writeFileSync(indexPath, JSON.stringify(index));
    unlinkSync(path.join(dir, otherShard));
    await expectReject(loadHfFolder(dir), path.join(dir, otherShard), undefined, /is missing/);
  });

  it('names the file and tensor of a misshapen or missing weight', async () => {
    const dir = path.join(tmpRoot, 'misshapen');
    await saveHfFolder(dir, gpt2, randomWeights(gpt2), { dtype: 'F32' });
    const cfgPath = path.join(dir, 'config.json');
    writeFileSync(cfgPath, JSON.stringify({ ...GPT2_JSON, n_positions: 32 }));
    await expectReject(loadHfFolder(dir), path.join(dir, 'model.safetensors'), 'transformer.wpe.weight', /expected \[32, 32\]/);
    writeFileSync(cfgPath, JSON.stringify({ ...GPT2_JSON, n_layer: 3 }));
    await expectReject(loadHfFolder(dir), path.join(dir, 'model.safetensors'), 'transformer.h.2.ln_1.weight', /missing/);
  });
});

describe('PyTorch-generated fixtures', () => {
  for (const name of ['gpt2-tiny', 'llama-tiny', 'llama-tiny-sharded', 'qwen2-tiny']) {
    const dir = path.join(fixtures, name);
    it(`loads ${name}`, { skip: existsSync(path.join(dir, 'config.json')) ? false : `${dir} is missing` }, async () => {
      const loaded = await loadHfFolder(dir);
      const shapes = parameterShapes(loaded.config);
      assert.deepEqual([...loaded.weights.keys()].sort(), [...shapes.keys()].sort());
      for (const [k, s] of shapes) assert.deepEqual([...loaded.weights.get(k)!.shape], s, k);
      for (const t of loaded.weights.values()) assert.ok(t.data.every(Number.isFinite));
      const tok = loaded.tokenizer;
      assert.ok(tok, 'tokenizer.json loads');
      assert.ok(tok.vocabSize <= loaded.config.vocabSize);
      const ids = tok.encode('hello world');
      assert.ok(ids.every((id) => id >= 0 && id < loaded.config.vocabSize));
      if (loaded.config.arch === 'llama') {
        assert.equal(ids[0], loaded.config.bosTokenId);
        assert.notEqual(tok.encode('hello world', { addSpecialTokens: false })[0], loaded.config.bosTokenId);
      } else {
        assert.ok(!ids.includes(loaded.config.bosTokenId!));
      }
      assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'hello world');
    });
  }

  it('reads the same weights from the sharded and single-file Llama', { skip: existsSync(path.join(fixtures, 'llama-tiny-sharded')) ? false : 'fixtures missing' }, async () => {
    const a = await loadHfFolder(path.join(fixtures, 'llama-tiny-sharded'));
    const b = await loadHfFolder(path.join(fixtures, 'llama-tiny'));
    // one of them may be stored in half precision: equal to within half a unit of F16's last place
    assert.deepEqual([...a.weights.keys()].sort(), [...b.weights.keys()].sort());
    for (const [name, t] of a.weights) {
      const u = b.weights.get(name)!.data;
      t.data.forEach((x, i) => assert.ok(Math.abs(x - u[i]!) <= Math.max(Math.abs(x), 2 ** -14) * 2 ** -11, `${name}[${i}]: ${x} vs ${u[i]}`));
    }
  });
});
