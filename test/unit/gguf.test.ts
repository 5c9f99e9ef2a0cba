/**
 * GGUF export (src/trainer/gguf.ts) and the `llama-cpp` provider (src/trainer/llamaCppProvider.ts).
 *
 * Always: the writer's files parse back (header, metadata, tensor table, offsets and alignment,
 * data), the tensor layout is checked against the Hugging Face originals (transposes and the Q/K
 * RoPE permutation convert_hf_to_gguf.py applies), and the provider's errors.
 *
 * When node-llama-cpp is installed (an optional dependency): the fixture models and a byte-
 * tokenizer preset, exported to GGUF and run by llama.cpp, give the engine's greedy
 * continuations, and choose()'s log-probabilities equal scoreContinuations' (1e-3 relative).
 * Without it those tests skip, unless CAI_REQUIRE_LLAMA_CPP=1 makes them fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ModelConfig } from '../../src/core/model/config';
import { generate, scoreContinuations } from '../../src/core/model/generate';
import { ModelFileError } from '../../src/core/model/errors';
import { parseSafetensors } from '../../src/core/model/safetensors';
import { CausalLM } from '../../src/core/model/transformer';
import { ProviderError } from '../../src/core/providers/types';
import { Rng } from '../../src/core/training/rng';
import { initializeBackend } from '../../src/trainer/backend';
import { loadModel, type LoadedModel } from '../../src/trainer/engine';
import { GGUF_ALIGNMENT, GgmlType, GgufType, kv, metadataValue, permuteRope, readGgufHeader, readGgufTensor, saveGguf, TokenType, writeGguf, type GgufHeader } from '../../src/trainer/gguf';
import { findNodeLlamaCpp, LlamaCppProvider, NOT_INSTALLED_MESSAGE } from '../../src/trainer/llamaCppProvider';

const repoRoot = path.resolve(__dirname, '../..');
const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'models');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cai-gguf-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const installed = findNodeLlamaCpp() !== undefined;
const required = process.env.CAI_REQUIRE_LLAMA_CPP === '1';
/** node:test's skip option: a one-line reason, or false to run (and fail when required but missing). */
const llamaSkip: string | false = installed || required ? false : `node-llama-cpp is not installed (npm install node-llama-cpp@3.21.1); set CAI_REQUIRE_LLAMA_CPP=1 to fail instead`;
function requireInstalled(): void {
  if (!installed) assert.fail(`CAI_REQUIRE_LLAMA_CPP=1 but ${NOT_INSTALLED_MESSAGE}`);
}

async function exported(ref: { path: string } | { preset: string }, file: string, dtype: 'F32' | 'F16' = 'F32'): Promise<{ model: LoadedModel; file: string; header: GgufHeader; bytes: Uint8Array }> {
  const model = await loadModel(ref, 0);
  await saveGguf(file, model.config, model.weights, model.tokenizerJson!, { dtype });
  const bytes = new Uint8Array(fs.readFileSync(file));
  return { model, file, header: readGgufHeader(bytes, file), bytes };
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** convert_hf_to_gguf.py's LlamaModel.permute on an HF [out, in] weight: reshape(n_head, 2, hd/2, in).swapaxes(1, 2). */
function hfPermute(w: Float32Array, nHead: number, inDim: number): Float32Array {
  const rows = w.length / inDim;
  const hd = rows / nHead;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHead; h++)
    for (let a = 0; a < 2; a++)
      for (let b = 0; b < hd / 2; b++) {
        const src = h * hd + a * (hd / 2) + b; // index in (n_head, 2, hd/2)
        const dst = h * hd + b * 2 + a; // index in (n_head, hd/2, 2)
        out.set(w.subarray(src * inDim, (src + 1) * inDim), dst * inDim);
      }
  return out;
}

function assertClose(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  assert.ok(worst <= tol, `${what}: max difference ${worst} > ${tol}`);
}

function checkLayout(h: GgufHeader, fileSize: number): void {
  assert.equal(h.version, 3);
  assert.equal(h.alignment, GGUF_ALIGNMENT);
  assert.equal(h.dataOffset % GGUF_ALIGNMENT, 0);
  let end = 0;
  for (const t of h.tensors) {
    assert.equal(t.offset % GGUF_ALIGNMENT, 0, `${t.name}: offset ${t.offset} is not aligned`);
    assert.ok(t.offset >= end, `${t.name}: overlaps the tensor before it`);
    end = t.offset + t.dims.reduce((a, b) => a * b, 1) * (t.type === GgmlType.F16 ? 2 : 4);
  }
  assert.ok(h.dataOffset + end <= fileSize && fileSize - (h.dataOffset + end) < GGUF_ALIGNMENT, 'the file ends after the last tensor (padded)');
  assert.equal(new Set(h.tensors.map((t) => t.name)).size, h.tensors.length, 'tensor names are unique');
}

describe('GGUF writer', () => {
  it('writes the container: magic, version, typed metadata and arrays, tensor table, aligned data', async () => {
    const file = path.join(tmp, 'raw.gguf');
    const meta = new Map([
      ['general.architecture', kv.str('gpt2')],
      ['a.u32', kv.u32(7)],
      ['a.f32', kv.f32(0.5)],
      ['a.bool', kv.bool(true)],
      ['a.strings', kv.strings(['x', 'ÿ€', ''])],
      ['a.i32s', kv.i32s([-1, 2])],
      ['a.u64', { type: GgufType.UINT64, value: 2n ** 40n } as const],
    ]);
    const a = Float32Array.from({ length: 5 }, (_, i) => i + 0.25);
    const b = Float32Array.from({ length: 6 }, (_, i) => -i / 3);
    const size = await writeGguf(file, meta, [
      { name: 'a', dims: [5], type: GgmlType.F32, data: () => a },
      { name: 'b', dims: [3, 2], type: GgmlType.F16, data: () => b },
    ]);
    const bytes = new Uint8Array(fs.readFileSync(file));
    assert.equal(bytes.length, size);
    assert.deepEqual([...bytes.subarray(0, 4)], [0x47, 0x47, 0x55, 0x46]); // "GGUF"
    const h = readGgufHeader(bytes, file);
    checkLayout(h, bytes.length);
    assert.equal(metadataValue(h, 'a.u32'), 7);
    assert.equal(metadataValue(h, 'a.f32'), 0.5);
    assert.equal(metadataValue(h, 'a.bool'), true);
    assert.deepEqual(metadataValue(h, 'a.strings'), ['x', 'ÿ€', '']);
    assert.deepEqual(metadataValue(h, 'a.i32s'), [-1, 2]);
    assert.equal(metadataValue(h, 'a.u64'), 2 ** 40);
    assert.deepEqual(h.tensors.map((t) => [t.name, t.dims, t.type, t.offset]), [['a', [5], 0, 0], ['b', [3, 2], 1, 32]]);
    assertClose(readGgufTensor(bytes, h, 'a', file), a, 0, 'a');
    assertClose(readGgufTensor(bytes, h, 'b', file), b, 1e-3, 'b (F16)');
    assert.ok(!fs.readdirSync(tmp).some((f) => f.includes('.tmp-')), 'no temporary file is left');
  });

  it('GPT-2: llama.cpp names, shapes and metadata; transposed projections; tokenizer with merges and padding ids', async () => {
    const { model, header: h, bytes, file } = await exported({ path: path.join(FIXTURES, 'gpt2-tiny') }, path.join(tmp, 'gpt2.gguf'));
    const c = model.config;
    checkLayout(h, bytes.length);
    const meta = (k: string): unknown => metadataValue(h, k);
    assert.equal(meta('general.architecture'), 'gpt2');
    assert.equal(meta('general.file_type'), 0);
    assert.equal(meta('gpt2.context_length'), c.maxPositions);
    assert.equal(meta('gpt2.embedding_length'), c.dModel);
    assert.equal(meta('gpt2.block_count'), c.nLayers);
    assert.equal(meta('gpt2.feed_forward_length'), c.dFf);
    assert.equal(meta('gpt2.attention.head_count'), c.nHeads);
    assert.ok(Math.abs((meta('gpt2.attention.layer_norm_epsilon') as number) - c.normEps) < 1e-12);
    assert.equal(meta('tokenizer.ggml.model'), 'gpt2');
    assert.equal(meta('tokenizer.ggml.pre'), 'gpt-2');
    const tokens = meta('tokenizer.ggml.tokens') as string[];
    const types = meta('tokenizer.ggml.token_type') as number[];
    assert.equal(tokens.length, c.vocabSize);
    assert.equal(types.length, c.vocabSize);
    const tj = JSON.parse(model.tokenizerJson!) as { model: { vocab: Record<string, number>; merges: string[] } };
    for (const [t, id] of Object.entries(tj.model.vocab)) assert.equal(tokens[id], t);
    assert.deepEqual(meta('tokenizer.ggml.merges'), tj.model.merges);
    assert.equal(types[290], TokenType.CONTROL); // <|endoftext|>
    assert.equal(types[0], TokenType.NORMAL);
    assert.equal(tokens[299], '[PAD299]');
    assert.equal(types[299], TokenType.UNUSED);
    assert.equal(meta('tokenizer.ggml.bos_token_id'), 290);
    assert.equal(meta('tokenizer.ggml.eos_token_id'), 290);
    assert.equal(meta('tokenizer.ggml.add_bos_token'), false);

    const names = h.tensors.map((t) => t.name);
    const perBlock = ['attn_norm.weight', 'attn_norm.bias', 'attn_qkv.weight', 'attn_qkv.bias', 'attn_output.weight', 'attn_output.bias', 'ffn_norm.weight', 'ffn_norm.bias', 'ffn_up.weight', 'ffn_up.bias', 'ffn_down.weight', 'ffn_down.bias'];
    assert.deepEqual(names.sort(), ['token_embd.weight', 'position_embd.weight', 'output_norm.weight', 'output_norm.bias', ...Array.from({ length: c.nLayers }, (_, i) => perBlock.map((n) => `blk.${i}.${n}`)).flat()].sort());
    const dims = (n: string): number[] => h.tensors.find((t) => t.name === n)!.dims;
    const D = c.dModel;
    assert.deepEqual(dims('token_embd.weight'), [D, c.vocabSize]);
    assert.deepEqual(dims('position_embd.weight'), [D, c.maxPositions]);
    assert.deepEqual(dims('blk.0.attn_qkv.weight'), [D, 3 * D]);
    assert.deepEqual(dims('blk.1.ffn_up.weight'), [D, c.dFf]);
    assert.deepEqual(dims('blk.1.ffn_down.weight'), [c.dFf, D]);

    // Against the HF file: GPT-2's Conv1D weights are [in, out]; llama.cpp wants [out][in] rows.
    const st = parseSafetensors(new Uint8Array(fs.readFileSync(path.join(FIXTURES, 'gpt2-tiny', 'model.safetensors'))), 'model.safetensors');
    const hf = (n: string): Float32Array => (st.get(n) ?? st.get(`transformer.${n}`))!.data;
    assertClose(readGgufTensor(bytes, h, 'token_embd.weight', file), hf('wte.weight'), 0, 'token_embd');
    assertClose(readGgufTensor(bytes, h, 'blk.1.attn_qkv.weight', file), transpose(hf('h.1.attn.c_attn.weight'), D, 3 * D), 0, 'attn_qkv');
    assertClose(readGgufTensor(bytes, h, 'blk.0.ffn_down.weight', file), transpose(hf('h.0.mlp.c_proj.weight'), c.dFf, D), 0, 'ffn_down');
    assertClose(readGgufTensor(bytes, h, 'blk.0.attn_qkv.bias', file), hf('h.0.attn.c_attn.bias'), 0, 'attn_qkv.bias');
  });

  for (const name of ['llama-tiny', 'qwen2-tiny']) {
    it(`${name}: Llama names and metadata; Q/K rows permuted as convert_hf_to_gguf.py does`, async () => {
      const { model, header: h, bytes, file } = await exported({ path: path.join(FIXTURES, name) }, path.join(tmp, `${name}.gguf`));
      const c = model.config;
      checkLayout(h, bytes.length);
      const meta = (k: string): unknown => metadataValue(h, k);
      assert.equal(meta('general.architecture'), 'llama');
      assert.equal(meta('llama.attention.head_count_kv'), c.nKvHeads);
      assert.equal(meta('llama.rope.dimension_count'), c.headDim);
      assert.equal(meta('llama.rope.freq_base'), c.ropeTheta);
      assert.ok(Math.abs((meta('llama.attention.layer_norm_rms_epsilon') as number) - c.normEps) < 1e-12);
      assert.equal(meta('tokenizer.ggml.add_bos_token'), true);
      assert.equal(meta('tokenizer.ggml.bos_token_id'), 1);
      assert.equal(meta('tokenizer.ggml.eos_token_id'), 2);
      const names = new Set(h.tensors.map((t) => t.name));
      for (const n of ['attn_q.weight', 'attn_k.weight', 'attn_v.weight', 'attn_output.weight', 'ffn_gate.weight', 'ffn_up.weight', 'ffn_down.weight', 'attn_norm.weight', 'ffn_norm.weight']) assert.ok(names.has(`blk.1.${n}`), n);
      assert.equal(names.has('output.weight'), !c.tieEmbeddings);
      assert.equal(names.has('blk.0.attn_q.bias'), c.qkvBias);
      assert.ok(!names.has('position_embd.weight'));

      const st = parseSafetensors(new Uint8Array(fs.readFileSync(path.join(FIXTURES, name, 'model.safetensors'))), 'model.safetensors');
      const hf = (n: string): Float32Array => st.get(`model.${n}`)!.data;
      const D = c.dModel;
      const tol = name === 'qwen2-tiny' ? 0 : 0; // bf16 values are exact in f32
      assertClose(readGgufTensor(bytes, h, 'blk.1.attn_q.weight', file), hfPermute(hf('layers.1.self_attn.q_proj.weight'), c.nHeads, D), tol, 'attn_q');
      assertClose(readGgufTensor(bytes, h, 'blk.1.attn_k.weight', file), hfPermute(hf('layers.1.self_attn.k_proj.weight'), c.nKvHeads, D), tol, 'attn_k');
      assertClose(readGgufTensor(bytes, h, 'blk.1.attn_v.weight', file), hf('layers.1.self_attn.v_proj.weight'), tol, 'attn_v');
      assertClose(readGgufTensor(bytes, h, 'blk.0.ffn_gate.weight', file), hf('layers.0.mlp.gate_proj.weight'), tol, 'ffn_gate');
      assertClose(readGgufTensor(bytes, h, 'blk.0.ffn_up.weight', file), hf('layers.0.mlp.up_proj.weight'), tol, 'ffn_up');
      assertClose(readGgufTensor(bytes, h, 'blk.0.ffn_down.weight', file), hf('layers.0.mlp.down_proj.weight'), tol, 'ffn_down');
      if (c.qkvBias) assertClose(readGgufTensor(bytes, h, 'blk.0.attn_k.bias', file), hfPermute(hf('layers.0.self_attn.k_proj.bias'), c.nKvHeads, 1), tol, 'attn_k.bias');
      if (!c.tieEmbeddings) assertClose(readGgufTensor(bytes, h, 'output.weight', file), st.get('lm_head.weight')!.data, tol, 'output');
    });
  }

  it('F16: matrices as F16, norms and biases as F32, values within half precision', async () => {
    const { model, header: h, bytes, file } = await exported({ path: path.join(FIXTURES, 'gpt2-tiny') }, path.join(tmp, 'gpt2-f16.gguf'), 'F16');
    checkLayout(h, bytes.length);
    assert.equal(metadataValue(h, 'general.file_type'), 1);
    for (const t of h.tensors) assert.equal(t.type, t.dims.length === 2 ? GgmlType.F16 : GgmlType.F32, t.name);
    const wte = model.weights.get('wte')!.data;
    const got = readGgufTensor(bytes, h, 'token_embd.weight', file);
    for (let i = 0; i < wte.length; i++) assert.ok(Math.abs(got[i]! - wte[i]!) <= Math.abs(wte[i]!) * 1e-3 + 1e-7);
  });

  it('a byte-tokenizer preset: no merges, BOS added, special tokens are control tokens', async () => {
    const { header: h, bytes, model } = await exported({ preset: 'nano' }, path.join(tmp, 'nano.gguf'));
    checkLayout(h, bytes.length);
    assert.deepEqual(metadataValue(h, 'tokenizer.ggml.merges'), []);
    assert.equal(metadataValue(h, 'tokenizer.ggml.add_bos_token'), true);
    assert.equal(metadataValue(h, 'tokenizer.ggml.bos_token_id'), 256);
    const types = metadataValue(h, 'tokenizer.ggml.token_type') as number[];
    assert.deepEqual([types[255], types[256], types[257], types[258], types[259]], [TokenType.NORMAL, TokenType.CONTROL, TokenType.CONTROL, TokenType.CONTROL, TokenType.UNUSED]);
    assert.equal(types.length, model.config.vocabSize);
  });

  it('permuteRope is the permutation convert_hf_to_gguf.py applies', () => {
    const w = Float32Array.from({ length: 4 * 8 * 3 }, (_, i) => i);
    assertClose(permuteRope(w, 4, 8, 3), hfPermute(w, 4, 3), 0, 'permute');
  });

  it('refuses what llama.cpp cannot run or tokenize, naming the file', async () => {
    const m = await loadModel({ path: path.join(FIXTURES, 'gpt2-tiny') }, 0);
    const exact: ModelConfig = { ...m.config, activation: 'gelu' };
    await assert.rejects(saveGguf(path.join(tmp, 'x.gguf'), exact, m.weights, m.tokenizerJson!), (e: Error) => e instanceof ModelFileError && /x\.gguf.*gelu_new/.test(e.message));
    const wordPiece = JSON.stringify({ model: { type: 'WordPiece', vocab: { a: 0 } } });
    await assert.rejects(saveGguf(path.join(tmp, 'x.gguf'), m.config, m.weights, wordPiece), (e: Error) => e instanceof ModelFileError && /only byte-level BPE/.test(e.message));
    assert.ok(!fs.existsSync(path.join(tmp, 'x.gguf')));
  });

  it('the reader rejects files that are not GGUF or are cut short', () => {
    assert.throws(() => readGgufHeader(new Uint8Array([1, 2, 3, 4, 5]), 'junk.gguf'), /junk\.gguf: is not a GGUF file/);
    const bytes = new Uint8Array(fs.readFileSync(path.join(tmp, 'gpt2.gguf')));
    assert.throws(() => readGgufHeader(bytes.subarray(0, 200), 'cut.gguf'), /cut\.gguf: is truncated/);
  });

  it('cai export-gguf writes a file from a model folder and reports it', () => {
    const out = path.join(tmp, 'cli.gguf');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src', 'cli', 'main.ts'), 'export-gguf', path.join(FIXTURES, 'llama-tiny'), '-o', out, '--dtype', 'f16'], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /cli\.gguf: llama, \d+ tensors, F16/);
    const h = readGgufHeader(new Uint8Array(fs.readFileSync(out)), out);
    assert.equal(metadataValue(h, 'general.file_type'), 1);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src', 'cli', 'main.ts'), 'export-gguf', path.join(FIXTURES, 'llama-tiny')], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /-o FILE\.gguf is required/);
  });
});

describe('llama-cpp provider: errors', () => {
  it('says how to install node-llama-cpp when it is missing', async () => {
    const p = new LlamaCppProvider(path.join(tmp, 'gpt2.gguf'), { searchPaths: [path.join(tmp, 'nowhere')] });
    await assert.rejects(p.ready(), (e: Error) => e instanceof ProviderError && e.kind === 'fatal' && e.message === NOT_INSTALLED_MESSAGE);
    await p.dispose();
  });

  it('names a missing or corrupt model file', async () => {
    const missing = new LlamaCppProvider(path.join(tmp, 'missing.gguf'));
    await assert.rejects(missing.ready(), (e: Error) => e instanceof ProviderError && e.message.includes(path.join(tmp, 'missing.gguf')) && /no such GGUF file/.test(e.message));
    const junk = path.join(tmp, 'junk.gguf');
    fs.writeFileSync(junk, 'not a model at all');
    await assert.rejects(new LlamaCppProvider(junk).ready(), (e: Error) => e instanceof ProviderError && e.message.startsWith(`${junk}: not a GGUF file`));
  });

  it('names a GGUF file llama.cpp cannot load', { skip: llamaSkip }, async () => {
    requireInstalled();
    const cut = path.join(tmp, 'cut.gguf');
    const whole = fs.readFileSync(path.join(tmp, 'gpt2.gguf'));
    fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const p = new LlamaCppProvider(cut);
    await assert.rejects(p.ready(), (e: Error) => e instanceof ProviderError && e.message.startsWith(`${cut}: llama.cpp cannot load this model`));
    await p.dispose();
  });
});

interface Case {
  name: string;
  ref: { path: string } | { preset: string };
}

const CASES: Case[] = [
  { name: 'gpt2-tiny', ref: { path: path.join(FIXTURES, 'gpt2-tiny') } },
  { name: 'llama-tiny', ref: { path: path.join(FIXTURES, 'llama-tiny') } },
  { name: 'qwen2-tiny', ref: { path: path.join(FIXTURES, 'qwen2-tiny') } },
  { name: 'preset nano (byte tokenizer)', ref: { preset: 'nano' } },
];
const PROMPTS = ['The quick brown fox', 'hello world, this is a test', 'Q: 2+2?\nA:'];
const OPTIONS = [' (A)', ' (B)', ' yes', ' jumps over the lazy dog', 'x'];

describe('llama-cpp provider: llama.cpp runs exported models as the engine does', { skip: llamaSkip }, () => {
  before(async () => {
    await initializeBackend({ backend: 'cpu' });
  });

  for (const c of CASES) {
    describe(c.name, () => {
      let loaded: LoadedModel;
      let lm: CausalLM;
      let provider: LlamaCppProvider;
      const file = path.join(tmp, `${c.name.replace(/\W+/g, '-')}.run.gguf`);
      before(async () => {
        requireInstalled();
        loaded = await loadModel(c.ref, 0);
        lm = CausalLM.fromWeights(loaded.config, loaded.weights);
        await saveGguf(file, loaded.config, loaded.weights, loaded.tokenizerJson!);
        provider = await LlamaCppProvider.create(file, { threads: 1 }); // tiny models: one thread is fastest, and spinning threads stall a busy machine
      });
      after(async () => {
        await provider?.dispose();
        lm?.dispose();
      });

      const engineGreedy = async (prompt: string, maxNew: number): Promise<{ text: string; count: number; finish: string }> => {
        const ids = loaded.tokenizer.encode(prompt, { addSpecialTokens: true });
        const [g] = await generate(lm, [ids], { maxNewTokens: maxNew, temperature: 0, eosTokenIds: [...loaded.config.eosTokenIds], rng: new Rng(0) });
        const eos = g!.finishReason === 'eos';
        const kept = eos ? g!.tokens.slice(0, -1) : g!.tokens;
        return { text: loaded.tokenizer.decode(kept, { skipSpecialTokens: true }), count: g!.tokens.length, finish: g!.finishReason };
      };

      const engineScores = async (prompt: string): Promise<number[]> => {
        const ids = loaded.tokenizer.encode(prompt, { addSpecialTokens: true });
        return (await scoreContinuations(lm, ids, OPTIONS.map((o) => loaded.tokenizer.encode(o, { addSpecialTokens: false })))).map((s) => s.total);
      };

      it('greedy completions equal the engine\'s greedy generation', async () => {
        assert.equal(provider.contextSize, loaded.config.maxPositions);
        const got = await provider.complete(PROMPTS.map((prompt) => ({ prompt, maxTokens: 16, temperature: 0 })));
        for (const [i, prompt] of PROMPTS.entries()) {
          const want = await engineGreedy(prompt, 16);
          assert.deepEqual({ text: got[i]!.text, count: got[i]!.completionTokens, finish: got[i]!.finishReason }, want, `prompt ${JSON.stringify(prompt)}`);
        }
      });

      it('choose() gives scoreContinuations\' log-probabilities (1e-3 relative), method exact', async () => {
        const got = await provider.choose(PROMPTS.map((prompt) => ({ prompt, options: OPTIONS })));
        for (const [i, prompt] of PROMPTS.entries()) {
          const want = await engineScores(prompt);
          assert.equal(got[i]!.method, 'exact');
          for (const [j, w] of want.entries()) {
            const g = got[i]!.logprobs[j]!;
            assert.ok(Math.abs(g - w) <= 1e-3 * Math.max(1, Math.abs(w)), `prompt ${i} option ${JSON.stringify(OPTIONS[j])}: llama.cpp ${g}, engine ${w}`);
          }
        }
      });

      it('precise (float32 attention): log-probabilities within 1e-5 relative (Llama family; GPT-2 1e-3)', async () => {
        const precise = await LlamaCppProvider.create(file, { threads: 1, precise: true });
        try {
          const got = await precise.choose(PROMPTS.map((prompt) => ({ prompt, options: OPTIONS })));
          // llama.cpp's GPT-2 GELU reads a half-precision table on the CPU: only ~1e-4 there.
          const tol = loaded.config.arch === 'llama' ? 1e-5 : 1e-3;
          for (const [i, prompt] of PROMPTS.entries()) {
            const want = await engineScores(prompt);
            for (const [j, w] of want.entries()) {
              const g = got[i]!.logprobs[j]!;
              assert.ok(Math.abs(g - w) <= tol * Math.max(1, Math.abs(w)), `prompt ${i} option ${JSON.stringify(OPTIONS[j])}: llama.cpp ${g}, engine ${w}`);
            }
          }
        } finally {
          await precise.dispose();
        }
      });

      it('stop strings cut the text; sampling with a seed repeats; requests of one call differ; concurrent calls', async () => {
        const greedy = (await engineGreedy(PROMPTS[0]!, 16)).text;
        const stop = greedy.slice(3, 5);
        const [cut] = await provider.complete([{ prompt: PROMPTS[0]!, maxTokens: 16, temperature: 0, stop: [stop] }]);
        assert.equal(cut!.finishReason, 'stop');
        assert.equal(cut!.text, greedy.slice(0, greedy.indexOf(stop)));
        const req = { prompt: PROMPTS[1]!, maxTokens: 12, temperature: 1, topK: 50, topP: 0.95, seed: 7 };
        const a = await provider.complete([req, req]);
        const b = await provider.complete([req, req]);
        assert.deepEqual(a, b);
        assert.notEqual(a[0]!.text, a[1]!.text);
        // Calls made at once are served one at a time, with the same results.
        const [c1, c2, c3] = await Promise.all([
          provider.complete([{ prompt: PROMPTS[2]!, maxTokens: 8, temperature: 0 }]),
          provider.choose([{ prompt: PROMPTS[0]!, options: OPTIONS }]),
          provider.complete([{ prompt: PROMPTS[0]!, maxTokens: 8, temperature: 0 }]),
        ]);
        assert.equal(c1[0]!.text, (await engineGreedy(PROMPTS[2]!, 8)).text);
        assert.equal(c3[0]!.text, (await engineGreedy(PROMPTS[0]!, 8)).text);
        (await engineScores(PROMPTS[0]!)).forEach((w, j) => assert.ok(Math.abs(c2[0]!.logprobs[j]! - w) <= 1e-3 * Math.max(1, Math.abs(w))));
      });
    });
  }
});
