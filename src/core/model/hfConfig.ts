// Hugging Face `config.json` ↔ ModelConfig. Only configurations whose computation our engine
// reproduces exactly are accepted; anything else is refused with the field to blame, never
// silently approximated.

import { configProblems, type Activation, type ModelConfig } from './config.js';
import { ModelFileError } from './errors.js';

export type HfModelType = 'gpt2' | 'llama' | 'mistral' | 'qwen2';

export const HF_MODEL_TYPES: readonly HfModelType[] = ['gpt2', 'llama', 'mistral', 'qwen2'];

export interface HfFieldInfo {
  readonly modelTypes: readonly HfModelType[];
  readonly meaning: string;
}

const LLAMA_LIKE: readonly HfModelType[] = ['llama', 'mistral', 'qwen2'];

/** The config.json fields we read, for the documentation. Other fields are ignored. */
export const SUPPORTED_HF_FIELDS: Readonly<Record<string, HfFieldInfo>> = {
  model_type: { modelTypes: HF_MODEL_TYPES, meaning: 'Architecture family: gpt2, llama, mistral or qwen2; anything else is refused.' },
  vocab_size: { modelTypes: HF_MODEL_TYPES, meaning: 'Rows of the token embedding (required).' },
  n_embd: { modelTypes: ['gpt2'], meaning: 'Model width (required).' },
  n_layer: { modelTypes: ['gpt2'], meaning: 'Number of transformer blocks (required).' },
  n_head: { modelTypes: ['gpt2'], meaning: 'Attention heads; must divide n_embd (required).' },
  n_positions: { modelTypes: ['gpt2'], meaning: 'Rows of the learned position embedding; n_ctx is read when it is absent.' },
  n_inner: { modelTypes: ['gpt2'], meaning: 'MLP hidden width; null or absent means 4 × n_embd.' },
  activation_function: { modelTypes: ['gpt2'], meaning: 'gelu_new or gelu_pytorch_tanh (tanh GELU), or gelu (exact GELU). Default gelu_new.' },
  layer_norm_epsilon: { modelTypes: ['gpt2'], meaning: 'LayerNorm epsilon. Default 1e-5.' },
  scale_attn_weights: { modelTypes: ['gpt2'], meaning: 'Must be true (scores divided by √head_dim), the default.' },
  scale_attn_by_inverse_layer_idx: { modelTypes: ['gpt2'], meaning: 'Must be false or absent.' },
  add_cross_attention: { modelTypes: ['gpt2'], meaning: 'Must be false or absent.' },
  hidden_size: { modelTypes: LLAMA_LIKE, meaning: 'Model width (required).' },
  intermediate_size: { modelTypes: LLAMA_LIKE, meaning: 'Width of the SwiGLU gate and up projections (required).' },
  num_hidden_layers: { modelTypes: LLAMA_LIKE, meaning: 'Number of transformer blocks (required).' },
  num_attention_heads: { modelTypes: LLAMA_LIKE, meaning: 'Query heads (required).' },
  num_key_value_heads: { modelTypes: LLAMA_LIKE, meaning: 'Key/value heads for grouped-query attention; must divide num_attention_heads. Default: num_attention_heads.' },
  head_dim: { modelTypes: ['llama', 'mistral'], meaning: 'Width of one head. Default hidden_size / num_attention_heads (always so for qwen2).' },
  max_position_embeddings: { modelTypes: LLAMA_LIKE, meaning: 'Longest sequence the model accepts. Defaults: 2048 (llama), 131072 (mistral), 32768 (qwen2).' },
  rms_norm_eps: { modelTypes: LLAMA_LIKE, meaning: 'RMSNorm epsilon. Default 1e-6.' },
  rope_theta: { modelTypes: LLAMA_LIKE, meaning: 'Rotary embedding base. Default 10000.' },
  rope_scaling: { modelTypes: LLAMA_LIKE, meaning: 'Must be null or absent: scaled RoPE variants are not supported.' },
  hidden_act: { modelTypes: LLAMA_LIKE, meaning: 'Must be silu (the default).' },
  attention_bias: { modelTypes: ['llama'], meaning: 'Must be false or absent (biases on the output projection are not supported). qwen2 always has query/key/value biases.' },
  mlp_bias: { modelTypes: ['llama'], meaning: 'Must be false or absent.' },
  sliding_window: { modelTypes: ['mistral'], meaning: 'Must be null, or at least max_position_embeddings (sliding-window attention is not supported). Default 4096.' },
  use_sliding_window: { modelTypes: ['qwen2'], meaning: 'Must be false or absent.' },
  tie_word_embeddings: { modelTypes: HF_MODEL_TYPES, meaning: 'Whether the LM head reuses the token embedding. Default true for gpt2, false for the others.' },
  bos_token_id: { modelTypes: HF_MODEL_TYPES, meaning: 'Beginning-of-sequence id. Defaults: 50256 (gpt2), 1 (llama, mistral), none (qwen2); a default outside the vocabulary is dropped.' },
  eos_token_id: { modelTypes: HF_MODEL_TYPES, meaning: 'End-of-sequence id or list of ids; generation stops at any of them. generation_config.json overrides it. Defaults as bos_token_id (2 for llama, mistral).' },
  pad_token_id: { modelTypes: HF_MODEL_TYPES, meaning: 'Padding id, if any.' },
};

type Json = Record<string, unknown>;

class Reader {
  constructor(
    readonly json: Json,
    readonly file: string,
    readonly modelType: string,
  ) {}

  fail(field: string, message: string): never {
    throw new ModelFileError(this.file, `field '${field}' ${message}`);
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  int(field: string, fallback?: number, min = 1): number {
    const v = this.json[field];
    if (v === undefined || v === null) {
      if (fallback === undefined) this.fail(field, `is required for model_type ${this.modelType}`);
      return fallback;
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(field, `must be an integer ≥ ${min} (got ${JSON.stringify(v)})`);
    return v;
  }

  positive(field: string, fallback: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) this.fail(field, `must be a positive number (got ${JSON.stringify(v)})`);
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.json[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(field, `must be true or false (got ${JSON.stringify(v)})`);
    return v;
  }

  /** A field that must keep one value (or be absent / null). */
  must<T>(field: string, allowed: T, why: string): void {
    const v = this.json[field];
    if (v === undefined || v === null || v === allowed) return;
    this.fail(field, `is ${JSON.stringify(v)}: ${why}`);
  }

  /** Token ids: a number, a list of numbers, or null. A default outside the vocabulary is dropped. */
  ids(field: string, vocab: number, fallback: number[]): number[] {
    const v = this.json[field];
    if (v === undefined) return fallback.filter((id) => id < vocab);
    if (v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    for (const id of list) {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= vocab) {
        this.fail(field, `must be a token id in 0..${vocab - 1} or a list of them (got ${JSON.stringify(v)})`);
      }
    }
    return [...new Set(list as number[])];
  }

  id(field: string, vocab: number, fallback?: number): number | undefined {
    const v = this.json[field];
    if (Array.isArray(v)) this.fail(field, `must be a single token id (got ${JSON.stringify(v)})`);
    const list = this.ids(field, vocab, fallback === undefined ? [] : [fallback]);
    return list[0];
  }
}

/**
 * Reads a Hugging Face config.json (already parsed) into a ModelConfig. Throws ModelFileError
 * naming `fileName` and the field for an unsupported model type or setting.
 */
export function configFromHf(json: unknown, fileName: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ModelFileError(fileName, 'is not a JSON object');
  }
  const obj = json as Json;
  const modelType = obj['model_type'];
  if (typeof modelType !== 'string') {
    throw new ModelFileError(fileName, `field 'model_type' is missing; supported model types: ${HF_MODEL_TYPES.join(', ')}`);
  }
  if (!(HF_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ModelFileError(fileName, `field 'model_type' is '${modelType}', which is not supported (supported: ${HF_MODEL_TYPES.join(', ')})`);
  }
  const r = new Reader(obj, fileName, modelType);
  const config = modelType === 'gpt2' ? gpt2Config(r) : llamaConfig(r, modelType as HfModelType);
  const problems = configProblems(config);
  if (problems.length > 0) throw new ModelFileError(fileName, `describes a model we cannot build: ${problems.join('; ')}`);
  return config;
}

function gpt2Config(r: Reader): ModelConfig {
  const vocabSize = r.int('vocab_size');
  const dModel = r.int('n_embd');
  const nLayers = r.int('n_layer');
  const nHeads = r.int('n_head');
  if (dModel % nHeads !== 0) r.fail('n_head', `(${nHeads}) must divide n_embd (${dModel})`);
  const maxPositions = r.has('n_positions') ? r.int('n_positions') : r.int('n_ctx', 1024);
  const dFf = r.int('n_inner', 4 * dModel);
  const act = r.json['activation_function'] ?? 'gelu_new';
  let activation: Activation;
  if (act === 'gelu_new' || act === 'gelu_pytorch_tanh') activation = 'gelu_new';
  else if (act === 'gelu') activation = 'gelu';
  else r.fail('activation_function', `is ${JSON.stringify(act)}; supported: gelu_new, gelu_pytorch_tanh, gelu`);
  r.must('scale_attn_weights', true, 'attention scores must be scaled by 1/√head_dim');
  r.must('scale_attn_by_inverse_layer_idx', false, 'per-layer attention scaling is not supported');
  r.must('add_cross_attention', false, 'cross-attention is not supported');
  const eosTokenIds = r.ids('eos_token_id', vocabSize, [50256]);
  return {
    arch: 'gpt2',
    vocabSize,
    dModel,
    nLayers,
    nHeads,
    nKvHeads: nHeads,
    headDim: dModel / nHeads,
    dFf,
    maxPositions,
    normEps: r.positive('layer_norm_epsilon', 1e-5),
    ropeTheta: 10000,
    activation,
    tieEmbeddings: r.bool('tie_word_embeddings', true),
    qkvBias: true,
    projBias: true,
    ...optional('bosTokenId', r.id('bos_token_id', vocabSize, 50256)),
    eosTokenIds,
    ...optional('padTokenId', r.id('pad_token_id', vocabSize)),
  };
}

function llamaConfig(r: Reader, modelType: HfModelType): ModelConfig {
  const vocabSize = r.int('vocab_size');
  const dModel = r.int('hidden_size');
  const dFf = r.int('intermediate_size');
  const nLayers = r.int('num_hidden_layers');
  const nHeads = r.int('num_attention_heads');
  const nKvHeads = r.int('num_key_value_heads', nHeads);
  if (nHeads % nKvHeads !== 0) r.fail('num_key_value_heads', `(${nKvHeads}) must divide num_attention_heads (${nHeads})`);
  let headDim: number;
  if (modelType === 'qwen2' || !r.has('head_dim')) {
    if (dModel % nHeads !== 0) r.fail('num_attention_heads', `(${nHeads}) must divide hidden_size (${dModel})`);
    headDim = dModel / nHeads;
  } else headDim = r.int('head_dim');
  const maxPositions = r.int('max_position_embeddings', modelType === 'llama' ? 2048 : modelType === 'mistral' ? 131072 : 32768);
  const act = r.json['hidden_act'] ?? 'silu';
  if (act !== 'silu') r.fail('hidden_act', `is ${JSON.stringify(act)}; only silu is supported`);
  const scaling = r.json['rope_scaling'];
  if (scaling !== undefined && scaling !== null) {
    const kind = typeof scaling === 'object' && !Array.isArray(scaling) ? ((scaling as Json)['rope_type'] ?? (scaling as Json)['type']) : undefined;
    r.fail('rope_scaling', `is set${typeof kind === 'string' ? ` (${kind})` : ''}; scaled rotary embeddings are not supported, only plain RoPE (rope_scaling null)`);
  }
  let qkvBias = false;
  if (modelType === 'llama') {
    r.must('attention_bias', false, 'biases on the attention projections are not supported for llama (use qwen2 for query/key/value biases)');
    r.must('mlp_bias', false, 'biases on the MLP projections are not supported');
  } else if (modelType === 'mistral') {
    const sw = r.json['sliding_window'] === undefined ? 4096 : r.json['sliding_window'];
    if (sw !== null && !(typeof sw === 'number' && sw >= maxPositions)) {
      r.fail('sliding_window', `is ${JSON.stringify(sw)}, shorter than max_position_embeddings (${maxPositions}); sliding-window attention is not supported (set it to null)`);
    }
  } else {
    qkvBias = true;
    r.must('use_sliding_window', false, 'sliding-window attention is not supported');
  }
  const defaultBos = modelType === 'qwen2' ? undefined : 1;
  const defaultEos = modelType === 'qwen2' ? [] : [2];
  return {
    arch: 'llama',
    vocabSize,
    dModel,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    dFf,
    maxPositions,
    normEps: r.positive('rms_norm_eps', 1e-6),
    ropeTheta: r.positive('rope_theta', 10000),
    activation: 'silu',
    tieEmbeddings: r.bool('tie_word_embeddings', false),
    qkvBias,
    projBias: false,
    ...optional('bosTokenId', r.id('bos_token_id', vocabSize, defaultBos)),
    eosTokenIds: r.ids('eos_token_id', vocabSize, defaultEos),
    ...optional('padTokenId', r.id('pad_token_id', vocabSize)),
  };
}

function optional<K extends string>(key: K, v: number | undefined): { [P in K]?: number } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: number };
}

/** The HF model type a config is written as: gpt2, llama, or qwen2 for llama with query/key/value biases. */
export function hfModelType(c: ModelConfig): 'gpt2' | 'llama' | 'qwen2' {
  if (c.arch === 'gpt2') return 'gpt2';
  return c.qkvBias ? 'qwen2' : 'llama';
}

const ARCHITECTURES = { gpt2: 'GPT2LMHeadModel', llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM' } as const;

/**
 * Writes a ModelConfig as a Hugging Face config.json object that `transformers` loads into the
 * same computation. Throws ModelFileError (file config.json) for a config no HF class expresses.
 */
export function configToHf(c: ModelConfig): Record<string, unknown> {
  const fail = (message: string): never => {
    throw new ModelFileError('config.json', `cannot be written for this model: ${message}`);
  };
  const eos = c.eosTokenIds.length === 0 ? null : c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : [...c.eosTokenIds];
  const type = hfModelType(c);
  if (type === 'gpt2') {
    if (c.activation === 'silu') fail('GPT-2 models use GELU, not SiLU');
    if (!c.qkvBias || !c.projBias) fail('GPT-2 models have biases on every projection');
    if (c.nKvHeads !== c.nHeads) fail('GPT-2 models have no grouped-query attention');
    if (c.headDim * c.nHeads !== c.dModel) fail(`GPT-2 needs head width × heads = width (${c.headDim} × ${c.nHeads} ≠ ${c.dModel})`);
    return {
      architectures: [ARCHITECTURES.gpt2],
      model_type: 'gpt2',
      vocab_size: c.vocabSize,
      n_embd: c.dModel,
      n_layer: c.nLayers,
      n_head: c.nHeads,
      n_positions: c.maxPositions,
      n_ctx: c.maxPositions,
      n_inner: c.dFf,
      activation_function: c.activation,
      layer_norm_epsilon: c.normEps,
      resid_pdrop: 0,
      embd_pdrop: 0,
      attn_pdrop: 0,
      tie_word_embeddings: c.tieEmbeddings,
      bos_token_id: c.bosTokenId ?? null,
      eos_token_id: eos,
      ...(c.padTokenId === undefined ? {} : { pad_token_id: c.padTokenId }),
      torch_dtype: 'float32',
    };
  }
  if (c.activation !== 'silu') fail('Llama-family models use SiLU');
  if (c.projBias) fail('Llama-family models have no biases on the output and MLP projections');
  if (type === 'qwen2' && c.headDim * c.nHeads !== c.dModel) fail(`qwen2 needs head width × heads = width (${c.headDim} × ${c.nHeads} ≠ ${c.dModel})`);
  return {
    architectures: [ARCHITECTURES[type]],
    model_type: type,
    vocab_size: c.vocabSize,
    hidden_size: c.dModel,
    intermediate_size: c.dFf,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    ...(type === 'llama' ? { head_dim: c.headDim, attention_bias: false, mlp_bias: false } : { use_sliding_window: false, sliding_window: null }),
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    hidden_act: 'silu',
    attention_dropout: 0,
    tie_word_embeddings: c.tieEmbeddings,
    bos_token_id: c.bosTokenId ?? null,
    eos_token_id: eos,
    ...(c.padTokenId === undefined ? {} : { pad_token_id: c.padTokenId }),
    torch_dtype: 'float32',
  };
}
