// One model held in this process for `cai serve`: loaded once (a preset or a Hugging Face model
// folder), sampled with `generate` and scored by a separate pass that gives the full next-token
// distribution at every position asked for (the top-k log-probabilities of the completions API).
// Everything runs on the current backend, in this thread; the server queues the calls.

import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../core/model/config';
import { generate, type Generation } from '../core/model/generate';
import { ByteTokenizer, byteSymbols, type Tokenizer } from '../core/model/tokenizer';
import { CausalLM } from '../core/model/transformer';
import { Rng } from '../core/training/rng';
import type { ModelRef } from '../protocol/trainer';
import { samplesOnDevice } from './backend';
import { loadModel } from './engine';

export interface ServeSampling {
  maxNewTokens: number;
  /** 0: greedy. */
  temperature: number;
  topK?: number;
  topP?: number;
  stop?: readonly string[];
  seed: number;
}

/** The log-probability of one token given those before it, and the k most likely tokens there. */
export interface PositionLogprobs {
  token: number;
  logprob: number;
  /** Most likely first; ties by lower id. */
  top: { token: number; logprob: number }[];
}

/** Byte-level BPE's printable symbol → the byte it stands for. */
const BYTE_OF_SYMBOL = new Map(byteSymbols().map((sym, b) => [sym, b]));

export class ServeModel {
  /** The name clients use in `model`: the preset's name or the folder's base name. */
  readonly id: string;
  private disposed = false;

  private constructor(
    private readonly model: CausalLM,
    readonly tokenizer: Tokenizer,
    /** `preset:NAME` or the folder's path. */
    readonly source: string,
    id?: string,
  ) {
    this.id = id ?? (source.startsWith('preset:') ? source.slice('preset:'.length) : path.basename(source));
  }

  /** Loads the model with `loadModel` (a preset's weights come from `seed`) onto the current backend. */
  static async load(ref: ModelRef, opts: { seed?: number; id?: string } = {}): Promise<ServeModel> {
    const loaded = await loadModel(ref, opts.seed ?? 0);
    const model = CausalLM.fromWeights(loaded.config, loaded.weights, false);
    return new ServeModel(model, loaded.tokenizer, loaded.source, opts.id);
  }

  get config(): ModelConfig {
    return this.model.config;
  }

  /** Text with the tokenizer's special tokens (BOS where it adds one), as `cai generate` encodes prompts. */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { addSpecialTokens: true });
  }

  /** Text of ids, special tokens left out. */
  decode(ids: readonly number[]): string {
    return this.tokenizer.decode(ids, { skipSpecialTokens: true });
  }

  /**
   * A token's text for log-probability listings, distinct for distinct ids: its decoded text; for a
   * token that is part of a character (a lone byte), `bytes:\xNN…` (OpenAI's convention);
   * otherwise the vocabulary's own token string, or `<|token_ID|>` for ids the tokenizer does not know.
   */
  tokenText(id: number): string {
    const text = this.tokenizer.decode([id], { skipSpecialTokens: false });
    if (text !== '' && !text.includes('\uFFFD')) return text;
    const bytes = this.rawBytes(id);
    if (bytes) return `bytes:${bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`;
    return this.rawToken(id) ?? `<|token_${id}|>`;
  }

  /** The UTF-8 bytes a token stands for; null for ids with no text. */
  tokenBytes(id: number): number[] | null {
    const text = this.tokenizer.decode([id], { skipSpecialTokens: false });
    if (text !== '' && !text.includes('\uFFFD')) return [...Buffer.from(text, 'utf8')];
    return this.rawBytes(id) ?? (text === '' ? null : [...Buffer.from(text, 'utf8')]);
  }

  private rawToken(id: number): string | undefined {
    return (this.tokenizer as Partial<{ idToToken(id: number): string | undefined }>).idToToken?.(id);
  }

  /**
   * The bytes behind a token that is not text by itself: the byte of the byte tokenizer, a
   * SentencePiece byte-fallback token (`<0xNN>`), or a byte-level BPE token's symbols mapped back.
   */
  private rawBytes(id: number): number[] | undefined {
    if (this.tokenizer instanceof ByteTokenizer) return id >= 0 && id < 256 ? [id] : undefined;
    const raw = this.rawToken(id);
    if (!raw) return undefined;
    const hex = /^<0x([0-9A-Fa-f]{2})>$/.exec(raw);
    if (hex) return [parseInt(hex[1]!, 16)];
    const out: number[] = [];
    for (const ch of raw) {
      const b = BYTE_OF_SYMBOL.get(ch);
      if (b === undefined) return undefined;
      out.push(b);
    }
    return out;
  }

  /** Samples continuations of each prompt (token ids) in one batch, with the config's EOS ids. */
  generate(prompts: readonly (readonly number[])[], s: ServeSampling): Promise<Generation[]> {
    this.check();
    return generate(this.model, prompts, {
      maxNewTokens: s.maxNewTokens,
      temperature: s.temperature,
      ...(s.topK !== undefined ? { topK: s.topK } : {}),
      ...(s.topP !== undefined ? { topP: s.topP } : {}),
      ...(s.stop?.length ? { stop: s.stop } : {}),
      eosTokenIds: [...this.model.config.eosTokenIds],
      rng: new Rng(s.seed),
      decode: (ids) => this.decode(ids),
      sampleOnDevice: samplesOnDevice(),
    });
  }

  /**
   * One pass over `ids`: for each position t in [from, ids.length), the log-probability of ids[t]
   * given ids[0..t) and the `k` most likely tokens at t (log softmax of the raw logits). `from` ≥ 1.
   */
  async tokenLogprobs(ids: readonly number[], from: number, k: number): Promise<PositionLogprobs[]> {
    this.check();
    const T = ids.length;
    const start = Math.max(1, from);
    if (start >= T) return [];
    if (T > this.config.maxPositions) throw new Error(`sequence of ${T} tokens is longer than the model's context of ${this.config.maxPositions}`);
    const N = T - start;
    const V = this.config.vocabSize;
    const D = this.config.dModel;
    const kk = Math.max(0, Math.min(Math.floor(k), V));
    const { chosen, topValues, topIndices } = tf.tidy(() => {
      const { hidden } = this.model.forward(tf.tensor2d(Int32Array.from(ids), [1, T], 'int32'));
      const rows = tf.slice(hidden, [start - 1, 0], [N, D]) as tf.Tensor2D;
      const lsm = tf.logSoftmax(this.model.logits(rows)) as tf.Tensor2D;
      const flat = Int32Array.from({ length: N }, (_, i) => i * V + ids[start + i]!);
      const picked = tf.gather(tf.reshape(lsm, [N * V]), tf.tensor1d(flat, 'int32'));
      if (kk === 0) return { chosen: picked, topValues: undefined, topIndices: undefined };
      const top = tf.topk(lsm, kk, true);
      return { chosen: picked, topValues: top.values, topIndices: top.indices };
    });
    try {
      const c = (await chosen.data()) as Float32Array;
      const tv = topValues ? ((await topValues.data()) as Float32Array) : new Float32Array(0);
      const ti = topIndices ? ((await topIndices.data()) as Int32Array) : new Int32Array(0);
      const out: PositionLogprobs[] = [];
      for (let i = 0; i < N; i++) {
        const top: { token: number; logprob: number }[] = [];
        for (let j = 0; j < kk; j++) top.push({ token: ti[i * kk + j]!, logprob: tv[i * kk + j]! });
        top.sort((a, b) => b.logprob - a.logprob || a.token - b.token);
        out.push({ token: ids[start + i]!, logprob: c[i]!, top });
      }
      return out;
    } finally {
      chosen.dispose();
      topValues?.dispose();
      topIndices?.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }

  private check(): void {
    if (this.disposed) throw new Error('the model has been unloaded');
  }
}
