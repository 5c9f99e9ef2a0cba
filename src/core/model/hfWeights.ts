// Hugging Face tensor names and layouts ↔ our WeightMap (see `parameterShapes`).
//
// GPT-2 (GPT2LMHeadModel) stores its projections as Conv1D, already [in, out], with the fused
// c_attn = [query | key | value], so only names change. The Llama family stores nn.Linear
// weights [out, in]: they are transposed, query/key/value are concatenated into `attn.wqkv`
// and gate/up into `mlp.wi`. Query and key rows keep HF's order, so the model's rotary
// embedding must rotate HF's way: pair i with i + headDim/2 in each head ("rotate_half").

import { headShapes, parameterShapes, type HeadName, type HostTensor, type ModelConfig, type WeightMap } from './config.js';
import { ModelFileError } from './errors.js';

/** Tensors HF checkpoints may hold that are not parameters: causal masks and RoPE frequencies. */
export function isKnownBuffer(name: string): boolean {
  return /(^|\.)attn\.(bias|masked_bias)$/.test(name) || /(^|\.)rotary_emb\.inv_freq$/.test(name);
}

/** Names we write the scalar heads under (weight [1, D], bias [1], as an nn.Linear(D, 1)). */
export const HF_HEAD_NAMES: Readonly<Record<HeadName, { weight: string; bias: string }>> = {
  reward: { weight: 'reward_head.weight', bias: 'reward_head.bias' },
  value: { weight: 'value_head.weight', bias: 'value_head.bias' },
};

const HEADS: readonly HeadName[] = ['reward', 'value'];

interface Plan {
  /** HF names each parameter is read from / written to, in order of concatenation. */
  readonly parts: readonly { readonly name: string; readonly shape: readonly number[] }[];
  /** How the HF parts become our tensor. */
  readonly op: 'copy' | 'transpose' | 'concatTransposed' | 'concat';
}

/** The HF layout of every trunk parameter, by our name. `prefix` is `transformer.`/`model.` or empty. */
function plans(c: ModelConfig, prefix: string): Map<string, Plan> {
  const D = c.dModel;
  const out = new Map<string, Plan>();
  const one = (ours: string, name: string, shape: number[], op: Plan['op'] = 'copy'): void => {
    out.set(ours, { parts: [{ name, shape }], op });
  };
  if (c.arch === 'gpt2') {
    const F = c.dFf;
    const W = 3 * c.nHeads * c.headDim;
    one('wte', `${prefix}wte.weight`, [c.vocabSize, D]);
    one('wpe', `${prefix}wpe.weight`, [c.maxPositions, D]);
    for (let i = 0; i < c.nLayers; i++) {
      const h = `${prefix}h.${i}`;
      const p = `h.${i}`;
      one(`${p}.ln1.g`, `${h}.ln_1.weight`, [D]);
      one(`${p}.ln1.b`, `${h}.ln_1.bias`, [D]);
      one(`${p}.attn.wqkv`, `${h}.attn.c_attn.weight`, [D, W]);
      one(`${p}.attn.bqkv`, `${h}.attn.c_attn.bias`, [W]);
      one(`${p}.attn.wo`, `${h}.attn.c_proj.weight`, [c.nHeads * c.headDim, D]);
      one(`${p}.attn.bo`, `${h}.attn.c_proj.bias`, [D]);
      one(`${p}.ln2.g`, `${h}.ln_2.weight`, [D]);
      one(`${p}.ln2.b`, `${h}.ln_2.bias`, [D]);
      one(`${p}.mlp.wi`, `${h}.mlp.c_fc.weight`, [D, F]);
      one(`${p}.mlp.bi`, `${h}.mlp.c_fc.bias`, [F]);
      one(`${p}.mlp.wo`, `${h}.mlp.c_proj.weight`, [F, D]);
      one(`${p}.mlp.bo`, `${h}.mlp.c_proj.bias`, [D]);
    }
    one('lnf.g', `${prefix}ln_f.weight`, [D]);
    one('lnf.b', `${prefix}ln_f.bias`, [D]);
  } else {
    const q = c.nHeads * c.headDim;
    const kv = c.nKvHeads * c.headDim;
    const F = c.dFf;
    one('wte', `${prefix}embed_tokens.weight`, [c.vocabSize, D]);
    for (let i = 0; i < c.nLayers; i++) {
      const h = `${prefix}layers.${i}`;
      const p = `h.${i}`;
      one(`${p}.ln1.g`, `${h}.input_layernorm.weight`, [D]);
      const proj = (n: string, rows: number): { name: string; shape: number[] } => ({ name: `${h}.self_attn.${n}_proj.weight`, shape: [rows, D] });
      out.set(`${p}.attn.wqkv`, { parts: [proj('q', q), proj('k', kv), proj('v', kv)], op: 'concatTransposed' });
      if (c.qkvBias) {
        const bias = (n: string, rows: number): { name: string; shape: number[] } => ({ name: `${h}.self_attn.${n}_proj.bias`, shape: [rows] });
        out.set(`${p}.attn.bqkv`, { parts: [bias('q', q), bias('k', kv), bias('v', kv)], op: 'concat' });
      }
      one(`${p}.attn.wo`, `${h}.self_attn.o_proj.weight`, [D, q], 'transpose');
      one(`${p}.ln2.g`, `${h}.post_attention_layernorm.weight`, [D]);
      out.set(`${p}.mlp.wi`, {
        parts: [
          { name: `${h}.mlp.gate_proj.weight`, shape: [F, D] },
          { name: `${h}.mlp.up_proj.weight`, shape: [F, D] },
        ],
        op: 'concatTransposed',
      });
      one(`${p}.mlp.wo`, `${h}.mlp.down_proj.weight`, [D, F], 'transpose');
    }
    one('lnf.g', `${prefix}norm.weight`, [D]);
  }
  if (!c.tieEmbeddings) one('lm_head', 'lm_head.weight', [c.vocabSize, D], 'transpose');
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** [rows, cols] → [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c]!;
  }
  return out;
}

/** Linear weights [out_k, in] → one [in, Σ out_k] matrix, the parts side by side. */
function concatTransposed(parts: readonly HostTensor[], inDim: number): Float32Array {
  const width = parts.reduce((a, p) => a + p.shape[0]!, 0);
  const out = new Float32Array(inDim * width);
  let col0 = 0;
  for (const p of parts) {
    const rows = p.shape[0]!;
    for (let o = 0; o < rows; o++) {
      const src = o * inDim;
      for (let i = 0; i < inDim; i++) out[i * width + col0 + o] = p.data[src + i]!;
    }
    col0 += rows;
  }
  return out;
}

/** The inverse: columns [c0, c0 + n) of an [in, width] matrix as a Linear weight [n, in]. */
function sliceTransposed(data: Float32Array, inDim: number, width: number, c0: number, n: number): Float32Array {
  const out = new Float32Array(n * inDim);
  for (let i = 0; i < inDim; i++) {
    const base = i * width + c0;
    for (let o = 0; o < n; o++) out[o * inDim + i] = data[base + o]!;
  }
  return out;
}

function concat(parts: readonly HostTensor[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p.data, at);
    at += p.data.length;
  }
  return out;
}

/**
 * Maps HF tensors to our WeightMap for `config`. Every expected tensor must be present with
 * its HF shape; extra tensors other than known buffers are an error, as is an `lm_head.weight`
 * that differs from the embedding when the config ties them. Reward and value heads written by
 * `weightsToHf` are read back when present. `fileOf` names the file a tensor came from (for a
 * tensor that is missing it may name the index or the single weights file).
 */
export function weightsFromHf(config: ModelConfig, tensors: ReadonlyMap<string, HostTensor>, fileOf: (name: string) => string): WeightMap {
  const trunkPrefix = config.arch === 'gpt2' ? 'transformer.' : 'model.';
  // Checkpoints of the bare trunk (GPT2Model, LlamaModel) leave the prefix off.
  const names = [...tensors.keys()];
  const prefixed = names.some((n) => n.startsWith(trunkPrefix));
  const bare = names.some((n) => !n.startsWith(trunkPrefix) && !n.startsWith('lm_head.') && !isKnownBuffer(n) && !isHeadName(n));
  if (prefixed && bare) {
    const odd = names.find((n) => !n.startsWith(trunkPrefix) && !n.startsWith('lm_head.') && !isKnownBuffer(n) && !isHeadName(n))!;
    throw new ModelFileError(fileOf(odd), `is not a ${config.arch} parameter (others are named '${trunkPrefix}…')`, odd);
  }
  const prefix = prefixed ? trunkPrefix : '';
  const used = new Set<string>();
  const get = (name: string, shape: readonly number[]): HostTensor => {
    const t = tensors.get(name);
    if (!t) throw new ModelFileError(fileOf(name), `is missing (expected shape ${fmt(shape)})`, name);
    if (!sameShape(t.shape, shape)) throw new ModelFileError(fileOf(name), `has shape ${fmt(t.shape)}, expected ${fmt(shape)}`, name);
    if (t.data.length !== shape.reduce((a, b) => a * b, 1)) throw new ModelFileError(fileOf(name), `holds ${t.data.length} values for shape ${fmt(shape)}`, name);
    used.add(name);
    return t;
  };

  const out: WeightMap = new Map();
  const expected = parameterShapes(config);
  for (const [ours, plan] of plans(config, prefix)) {
    const parts = plan.parts.map((p) => get(p.name, p.shape));
    const shape = expected.get(ours)!;
    let data: Float32Array;
    switch (plan.op) {
      case 'copy':
        data = parts[0]!.data;
        break;
      case 'transpose':
        data = transpose2d(parts[0]!.data, parts[0]!.shape[0]!, parts[0]!.shape[1]!);
        break;
      case 'concatTransposed':
        data = concatTransposed(parts, config.dModel);
        break;
      case 'concat':
        data = concat(parts);
        break;
    }
    out.set(ours, { shape, data });
  }

  if (config.tieEmbeddings && tensors.has('lm_head.weight')) {
    const lm = get('lm_head.weight', [config.vocabSize, config.dModel]);
    const wte = out.get('wte')!.data;
    for (let i = 0; i < wte.length; i++) {
      if (lm.data[i] !== wte[i] && !(Number.isNaN(lm.data[i]) && Number.isNaN(wte[i]))) {
        throw new ModelFileError(fileOf('lm_head.weight'), 'differs from the token embedding, but the config ties them (tie_word_embeddings is true)', 'lm_head.weight');
      }
    }
  }

  for (const head of HEADS) {
    const { weight, bias } = HF_HEAD_NAMES[head];
    if (!tensors.has(weight) && !tensors.has(bias)) continue;
    const w = get(weight, [1, config.dModel]);
    const b = get(bias, [1]);
    const shapes = headShapes(config, head);
    out.set(`${head}.w`, { shape: shapes.get(`${head}.w`)!, data: w.data });
    out.set(`${head}.b`, { shape: shapes.get(`${head}.b`)!, data: b.data });
  }

  const extra = names.filter((n) => !used.has(n) && !isKnownBuffer(n));
  if (extra.length > 0) {
    const shown = extra.slice(0, 5).map((n) => `'${n}'`).join(', ');
    const more = extra.length > 5 ? ` and ${extra.length - 5} more` : '';
    throw new ModelFileError(fileOf(extra[0]!), `holds tensors a ${config.arch} model with this config.json does not have: ${shown}${more}`, extra[0]);
  }
  return out;
}

function isHeadName(name: string): boolean {
  return HEADS.some((h) => name === HF_HEAD_NAMES[h].weight || name === HF_HEAD_NAMES[h].bias);
}

/**
 * Our WeightMap → HF tensors as `transformers` saves them: GPT-2 under `transformer.` with
 * Conv1D [in, out] matrices, the Llama family under `model.` with Linear [out, in] matrices.
 * A tied LM head is not written (HF drops it too). Reward/value heads, when present, are
 * written as `reward_head.*` / `value_head.*`. Every trunk parameter must be present with its
 * shape; `fileName` is named in errors.
 */
export function weightsToHf(config: ModelConfig, weights: WeightMap, fileName = 'model.safetensors'): Map<string, HostTensor> {
  const prefix = config.arch === 'gpt2' ? 'transformer.' : 'model.';
  const expected = parameterShapes(config);
  const take = (name: string, shape: readonly number[]): HostTensor => {
    const t = weights.get(name);
    if (!t) throw new ModelFileError(fileName, `cannot be written: parameter '${name}' is missing`, name);
    if (!sameShape(t.shape, shape) || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new ModelFileError(fileName, `cannot be written: parameter '${name}' has shape ${fmt(t.shape)}, expected ${fmt(shape)}`, name);
    }
    return t;
  };
  const out = new Map<string, HostTensor>();
  for (const [ours, plan] of plans(config, prefix)) {
    const t = take(ours, expected.get(ours)!);
    switch (plan.op) {
      case 'copy':
        out.set(plan.parts[0]!.name, { shape: plan.parts[0]!.shape, data: t.data });
        break;
      case 'transpose':
        out.set(plan.parts[0]!.name, { shape: plan.parts[0]!.shape, data: transpose2d(t.data, t.shape[0]!, t.shape[1]!) });
        break;
      case 'concatTransposed': {
        const width = t.shape[1]!;
        let c0 = 0;
        for (const p of plan.parts) {
          const n = p.shape[0]!;
          out.set(p.name, { shape: p.shape, data: sliceTransposed(t.data, config.dModel, width, c0, n) });
          c0 += n;
        }
        break;
      }
      case 'concat': {
        let at = 0;
        for (const p of plan.parts) {
          const n = p.shape[0]!;
          out.set(p.name, { shape: p.shape, data: t.data.slice(at, at + n) });
          at += n;
        }
        break;
      }
    }
  }
  for (const head of HEADS) {
    if (!weights.has(`${head}.w`) && !weights.has(`${head}.b`)) continue;
    const shapes = headShapes(config, head);
    const w = take(`${head}.w`, shapes.get(`${head}.w`)!);
    const b = take(`${head}.b`, shapes.get(`${head}.b`)!);
    out.set(HF_HEAD_NAMES[head].weight, { shape: [1, config.dModel], data: w.data });
    out.set(HF_HEAD_NAMES[head].bias, { shape: [1], data: b.data });
  }
  const known = new Set([...expected.keys(), ...HEADS.flatMap((h) => [`${h}.w`, `${h}.b`])]);
  const extra = [...weights.keys()].filter((n) => !known.has(n));
  if (extra.length > 0) throw new ModelFileError(fileName, `cannot be written: '${extra[0]}' is not a parameter of this model`, extra[0]);
  return out;
}
