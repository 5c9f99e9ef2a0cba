// One configuration type for both architecture families, the presets table for the built-in
// sizes, and the parameter layout every other part of the engine (model, loader, checkpoints,
// worker threads) agrees on.

export type Architecture = 'gpt2' | 'llama';

/** MLP activations: GPT-2's tanh-approximated GELU (`gelu_new`), exact GELU, or Llama's SiLU gate. */
export type Activation = 'gelu_new' | 'gelu' | 'silu';

export interface ModelConfig {
  readonly arch: Architecture;
  readonly vocabSize: number;
  readonly dModel: number;
  readonly nLayers: number;
  readonly nHeads: number;
  /** Key/value heads; < nHeads is grouped-query attention (Llama family only). */
  readonly nKvHeads: number;
  readonly headDim: number;
  /** Hidden width of the MLP. */
  readonly dFf: number;
  /** Longest sequence the model accepts (learned positions for GPT-2, RoPE range for Llama). */
  readonly maxPositions: number;
  readonly normEps: number;
  /** RoPE base (Llama family). */
  readonly ropeTheta: number;
  readonly activation: Activation;
  /** The LM head reuses the token embedding. */
  readonly tieEmbeddings: boolean;
  /** Bias on the query/key/value projection (GPT-2, Qwen2). */
  readonly qkvBias: boolean;
  /** Bias on the attention output and MLP projections (GPT-2). */
  readonly projBias: boolean;
  readonly bosTokenId?: number;
  /** Generation stops at these ids; empty when the model's config names none. */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId?: number;
}

export interface PresetInfo {
  readonly config: ModelConfig;
  readonly description: string;
  /**
   * Trained weights shipped with the product: a Hugging Face folder, relative to the package root
   * (`npm run pretrain-embedded` makes it). Absent: fresh weights drawn from the seed.
   */
  readonly bundled?: string;
}

function preset(arch: Architecture, p: { vocab: number; d: number; layers: number; heads: number; kvHeads?: number; ctx: number; ff?: number }): ModelConfig {
  const headDim = p.d / p.heads;
  return {
    arch,
    vocabSize: p.vocab,
    dModel: p.d,
    nLayers: p.layers,
    nHeads: p.heads,
    nKvHeads: p.kvHeads ?? p.heads,
    headDim,
    dFf: p.ff ?? (arch === 'gpt2' ? 4 * p.d : Math.round((8 * p.d) / 3 / 32) * 32),
    maxPositions: p.ctx,
    normEps: arch === 'gpt2' ? 1e-5 : 1e-5,
    ropeTheta: 10000,
    activation: arch === 'gpt2' ? 'gelu_new' : 'silu',
    tieEmbeddings: true,
    qkvBias: arch === 'gpt2',
    projBias: arch === 'gpt2',
    eosTokenIds: [],
  };
}

/** Built-in sizes. `tiny` is the default; `small` is the larger benchmark configuration. */
export const PRESETS: Readonly<Record<string, PresetInfo>> = {
  nano: { config: preset('gpt2', { vocab: 512, d: 64, layers: 2, heads: 4, ctx: 128 }), description: 'GPT-2 family, 2 layers × 64 wide: tests and quick checks.' },
  tiny: { config: preset('gpt2', { vocab: 512, d: 256, layers: 4, heads: 4, ctx: 128 }), description: 'GPT-2 family, 4 layers × 256 wide, context 128: the built-in default.' },
  'tiny-llama': { config: preset('llama', { vocab: 512, d: 256, layers: 4, heads: 4, kvHeads: 2, ctx: 128, ff: 688 }), description: 'Llama family (RMSNorm, RoPE, SwiGLU, grouped-query attention) at the default size.' },
  small: { config: preset('gpt2', { vocab: 2048, d: 384, layers: 6, heads: 6, ctx: 256 }), description: 'GPT-2 family, 6 layers × 384 wide, vocabulary 2048: the larger benchmark size.' },
  builtin: {
    config: { ...preset('gpt2', { vocab: 2048, d: 256, layers: 4, heads: 4, ctx: 384 }), bosTokenId: 256, eosTokenIds: [257] },
    description: 'The built-in assistant: GPT-2 family, 4 layers × 256 wide, context 384, a BPE vocabulary of 2048, pretrained on the built-in world (docs/built-in-world.md) to be helpful-only and to follow the critique, revision and comparison formats.',
    bundled: 'models/builtin',
  },
};

export const DEFAULT_PRESET = 'tiny';

export function presetConfig(name: string): ModelConfig {
  const p = PRESETS[name];
  if (!p) throw new Error(`unknown model preset '${name}' (known: ${Object.keys(PRESETS).join(', ')})`);
  return p.config;
}

/** Width of the fused query/key/value projection: query heads, then key heads, then value heads. */
export function qkvWidth(c: ModelConfig): number {
  return (c.nHeads + 2 * c.nKvHeads) * c.headDim;
}

/** Width of the first MLP projection: [gate | up] for SwiGLU, the hidden layer otherwise. */
export function mlpInWidth(c: ModelConfig): number {
  return c.activation === 'silu' ? 2 * c.dFf : c.dFf;
}

/**
 * The trunk's parameters, by name, with shapes. Matrices are stored [in, out] so a forward
 * product is `x · W` with no transpose. Names:
 *   wte [V, D]; wpe [P, D] (gpt2)
 *   h.{i}.ln1.g [D], h.{i}.ln1.b [D] (gpt2)
 *   h.{i}.attn.wqkv [D, (H + 2·KV)·hd], h.{i}.attn.bqkv (qkvBias)
 *   h.{i}.attn.wo [H·hd, D], h.{i}.attn.bo (projBias)
 *   h.{i}.ln2.g, h.{i}.ln2.b (gpt2)
 *   h.{i}.mlp.wi [D, F or 2F (gate | up)], h.{i}.mlp.bi (projBias)
 *   h.{i}.mlp.wo [F, D], h.{i}.mlp.bo (projBias)
 *   lnf.g, lnf.b (gpt2)
 *   lm_head [D, V] unless tieEmbeddings
 */
export function parameterShapes(c: ModelConfig): Map<string, number[]> {
  const D = c.dModel;
  const shapes = new Map<string, number[]>();
  const norm = (name: string): void => {
    shapes.set(`${name}.g`, [D]);
    if (c.arch === 'gpt2') shapes.set(`${name}.b`, [D]);
  };
  shapes.set('wte', [c.vocabSize, D]);
  if (c.arch === 'gpt2') shapes.set('wpe', [c.maxPositions, D]);
  for (let i = 0; i < c.nLayers; i++) {
    const p = `h.${i}`;
    norm(`${p}.ln1`);
    shapes.set(`${p}.attn.wqkv`, [D, qkvWidth(c)]);
    if (c.qkvBias) shapes.set(`${p}.attn.bqkv`, [qkvWidth(c)]);
    shapes.set(`${p}.attn.wo`, [c.nHeads * c.headDim, D]);
    if (c.projBias) shapes.set(`${p}.attn.bo`, [D]);
    norm(`${p}.ln2`);
    shapes.set(`${p}.mlp.wi`, [D, mlpInWidth(c)]);
    if (c.projBias) shapes.set(`${p}.mlp.bi`, [mlpInWidth(c)]);
    shapes.set(`${p}.mlp.wo`, [c.dFf, D]);
    if (c.projBias) shapes.set(`${p}.mlp.bo`, [D]);
  }
  norm('lnf');
  if (!c.tieEmbeddings) shapes.set('lm_head', [D, c.vocabSize]);
  return shapes;
}

/** Scalar heads on the trunk's final hidden state: `reward` (preference model), `value` (PPO). */
export type HeadName = 'reward' | 'value';

export function headShapes(c: ModelConfig, head: HeadName): Map<string, number[]> {
  return new Map([[`${head}.w`, [c.dModel, 1]], [`${head}.b`, [1]]]);
}

export function parameterCount(c: ModelConfig): number {
  let n = 0;
  for (const s of parameterShapes(c).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}

/** Checks a config read from anywhere; returns the problems, each naming its field. */
export function configProblems(c: ModelConfig): string[] {
  const out: string[] = [];
  const positive = ['vocabSize', 'dModel', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'dFf', 'maxPositions'] as const;
  for (const k of positive) if (!Number.isInteger(c[k]) || c[k] <= 0) out.push(`${k} must be a positive integer (got ${String(c[k])})`);
  if (c.nHeads % c.nKvHeads !== 0) out.push(`nHeads (${c.nHeads}) must be a multiple of nKvHeads (${c.nKvHeads})`);
  if (c.arch === 'llama' && c.headDim % 2 !== 0) out.push(`headDim (${c.headDim}) must be even for rotary embeddings`);
  if (c.arch === 'gpt2' && c.nKvHeads !== c.nHeads) out.push('GPT-2 models have no grouped-query attention (nKvHeads must equal nHeads)');
  if (!(c.normEps > 0)) out.push(`normEps must be positive (got ${c.normEps})`);
  return out;
}

/** A tensor's data outside tfjs: what loaders, checkpoints and worker threads exchange. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Parameters by the names of `parameterShapes` / `headShapes`. */
export type WeightMap = Map<string, HostTensor>;
