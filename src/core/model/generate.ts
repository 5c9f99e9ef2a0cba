// Batched generation with a key/value cache, sampling, and scoring of given continuations.
//
// Prompts of different lengths are padded on the left, so every sequence's next token sits in
// the last column; the attention mask hides the padding and positions count real tokens only, so
// a padded prompt yields exactly what it yields alone.

import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM, KvCache } from './transformer';
import type { Rng } from '../training/rng';

export interface SamplingOptions {
  maxNewTokens: number;
  /** 0 (or below 1e-6): greedy. */
  temperature: number;
  /** Keep only the k most likely tokens (0 or absent: all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 or absent: all). */
  topP?: number;
  /** Token ids that end a sequence (the model config's EOS; empty: none). */
  eosTokenIds: readonly number[];
  /** Strings that end a sequence; checked on the decoded text, not included in it. */
  stop?: readonly string[];
  rng: Rng;
  /** Needed for stop strings. */
  decode?: (ids: number[]) => string;
  /** Called after each decoding step; return true to stop early (cancellation). */
  onStep?: (step: number) => boolean | void;
  /** Id used for left padding (never attended to). */
  padId?: number;
  /**
   * Pick tokens on the device and read back only each row's token and its log-probability, not
   * the [B, V] logits (for GPU backends, where a read is a round trip). Greedy and temperature
   * sampling only; top-k, top-p and stop strings always pick on the host. Same draws from `rng`
   * as the host path, so the tokens agree except where rounding moves a draw across a boundary.
   */
  sampleOnDevice?: boolean;
}

export type FinishReason = 'length' | 'eos' | 'stop';

export interface Generation {
  /** New tokens, up to and including an EOS, excluding tokens after a stop string. */
  tokens: number[];
  /** Log-probability of each new token under the model (before temperature, top-k, top-p). */
  logprobs: number[];
  finishReason: FinishReason;
  /** Decoded text (when a decoder is given), cut before a stop string. */
  text?: string;
}

/** Generates continuations of each prompt (token ids). */
export async function generate(model: CausalLM, prompts: readonly (readonly number[])[], opts: SamplingOptions): Promise<Generation[]> {
  const B = prompts.length;
  if (B === 0) return [];
  const L = Math.max(...prompts.map((p) => p.length));
  if (prompts.some((p) => p.length === 0)) throw new Error('cannot generate from an empty prompt: encode at least one token (e.g. BOS)');
  const maxNew = Math.max(0, Math.min(opts.maxNewTokens, model.config.maxPositions - L));
  const pad = opts.padId ?? 0;
  const V = model.config.vocabSize;
  const ids = new Int32Array(B * L);
  const mask = new Float32Array(B * L);
  const pos = new Int32Array(B * L);
  const nextPos = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const p = prompts[b]!;
    const off = L - p.length;
    for (let t = 0; t < L; t++) {
      const real = t >= off;
      ids[b * L + t] = real ? p[t - off]! : pad;
      mask[b * L + t] = real ? 1 : 0;
      pos[b * L + t] = real ? t - off : 0;
    }
    nextPos[b] = p.length;
  }
  const out: Generation[] = prompts.map(() => ({ tokens: [], logprobs: [], finishReason: 'length' as FinishReason }));
  const done = new Array<boolean>(B).fill(maxNew === 0);
  let maskHost = mask;
  let S = L;
  let cache: KvCache | undefined;
  const head = model.headMatrix();
  const onDevice = opts.sampleOnDevice === true && !(opts.topK && opts.topK > 0 && opts.topK < V) && !(opts.topP !== undefined && opts.topP > 0 && opts.topP < 1) && !opts.stop?.length;
  let logits = tf.tidy(() => {
    const r = model.forward(tf.tensor2d(ids, [B, L], 'int32'), { attentionMask: tf.tensor2d(mask, [B, L]), positions: tf.tensor2d(pos, [B, L], 'int32'), useCache: true });
    cache = keepCache(r.cache!);
    const last = tf.reshape(tf.slice(tf.reshape(r.hidden, [B, L, model.config.dModel]), [0, L - 1, 0], [B, 1, model.config.dModel]), [B, model.config.dModel]) as tf.Tensor2D;
    return model.logits(last, head);
  });
  try {
    for (let step = 0; step < maxNew; step++) {
      const next = new Int32Array(B);
      const picked = onDevice ? await pickOnDevice(logits, done, opts) : undefined;
      const host = picked ? undefined : ((await logits.data()) as Float32Array);
      logits.dispose();
      for (let b = 0; b < B; b++) {
        if (done[b]) {
          next[b] = pad;
          continue;
        }
        const row = host?.subarray(b * V, (b + 1) * V);
        const token = picked ? picked.tokens[b]! : sampleToken(row!, opts);
        next[b] = token;
        const g = out[b]!;
        g.tokens.push(token);
        g.logprobs.push(picked ? picked.logprobs[b]! : logSoftmaxAt(row!, token));
        if (opts.eosTokenIds.includes(token)) {
          g.finishReason = 'eos';
          done[b] = true;
        } else if (opts.stop?.length && opts.decode) {
          const text = opts.decode(g.tokens);
          const cut = firstStop(text, opts.stop);
          if (cut !== undefined) {
            g.finishReason = 'stop';
            done[b] = true;
          }
        }
      }
      if (done.every(Boolean) || step === maxNew - 1 || opts.onStep?.(step) === true) break;
      const grown = new Float32Array(B * (S + 1));
      for (let b = 0; b < B; b++) {
        grown.set(maskHost.subarray(b * S, (b + 1) * S), b * (S + 1));
        grown[b * (S + 1) + S] = 1;
      }
      maskHost = grown;
      S += 1;
      const stepPos = Int32Array.from(nextPos);
      for (let b = 0; b < B; b++) nextPos[b]! += 1;
      const prev: KvCache = cache!;
      logits = tf.tidy(() => {
        const r = model.forward(tf.tensor2d(next, [B, 1], 'int32'), { attentionMask: tf.tensor2d(maskHost, [B, S]), positions: tf.tensor2d(stepPos, [B, 1], 'int32'), cache: prev, useCache: true });
        cache = keepCache(r.cache!);
        return model.logits(r.hidden, head);
      });
      disposeCache(prev);
    }
  } finally {
    head.dispose();
    if (!logits.isDisposed) logits.dispose();
    if (cache) disposeCache(cache);
  }
  if (opts.decode) {
    for (const g of out) {
      let text = opts.decode(g.tokens);
      if (g.finishReason === 'stop' && opts.stop) {
        const cut = firstStop(text, opts.stop);
        if (cut !== undefined) {
          text = text.slice(0, cut);
          // Keep only the tokens whose text lies before the stop string.
          while (g.tokens.length > 0 && opts.decode(g.tokens.slice(0, -1)).length >= cut) {
            g.tokens.pop();
            g.logprobs.pop();
          }
        }
      }
      g.text = text;
    }
  }
  return out;
}

/**
 * Picks each unfinished row's token on the device: the arg max at temperature 0, otherwise the
 * first token whose cumulative probability (of logits / temperature) exceeds a uniform draw from
 * `opts.rng` (one draw per unfinished row, in row order, as `sampleToken`). Reads back 2·B numbers.
 */
async function pickOnDevice(logits: tf.Tensor2D, done: readonly boolean[], opts: SamplingOptions): Promise<{ tokens: Int32Array; logprobs: Float32Array }> {
  const [B, V] = logits.shape;
  const greedy = !(opts.temperature > 1e-6);
  const u = greedy ? undefined : Float32Array.from(done, (d) => (d ? 0 : opts.rng.next()));
  const packed = tf.tidy(() => {
    let tokens: tf.Tensor1D;
    if (greedy) tokens = tf.cast(tf.argMax(logits, 1), 'int32') as tf.Tensor1D;
    else {
      const cdf = tf.cumsum(tf.softmax(tf.div(logits, opts.temperature)), 1);
      const total = tf.slice(cdf, [0, V - 1], [B, 1]);
      const below = tf.lessEqual(cdf, tf.mul(tf.tensor2d(u!, [B, 1]), total));
      tokens = tf.cast(tf.minimum(tf.sum(tf.cast(below, 'int32'), 1), tf.scalar(V - 1, 'int32')), 'int32') as tf.Tensor1D;
    }
    const lp = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tokens, V)), 1);
    return tf.concat([tf.cast(tokens, 'float32'), lp]);
  });
  try {
    const host = (await packed.data()) as Float32Array;
    return { tokens: Int32Array.from(host.subarray(0, B)), logprobs: host.slice(B) };
  } finally {
    packed.dispose();
  }
}

function keepCache(c: KvCache): KvCache {
  for (const l of c.layers) {
    tf.keep(l.k);
    tf.keep(l.v);
  }
  return c;
}

function disposeCache(c: KvCache): void {
  for (const l of c.layers) {
    l.k.dispose();
    l.v.dispose();
  }
}

function firstStop(text: string, stops: readonly string[]): number | undefined {
  let best: number | undefined;
  for (const s of stops) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (best === undefined || i < best)) best = i;
  }
  return best;
}

/** log softmax(row)[index], computed stably on the host. */
export function logSoftmaxAt(row: Float32Array, index: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return row[index]! - max - Math.log(sum);
}

/** Picks one token from a row of logits: greedy at temperature 0, else temperature, top-k, top-p, then a draw. */
export function sampleToken(row: Float32Array, opts: Pick<SamplingOptions, 'temperature' | 'topK' | 'topP' | 'rng'>): number {
  if (!(opts.temperature > 1e-6)) {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
    return best;
  }
  const V = row.length;
  let order = Array.from({ length: V }, (_, i) => i);
  const k = opts.topK && opts.topK > 0 ? Math.min(opts.topK, V) : V;
  const topP = opts.topP !== undefined && opts.topP > 0 && opts.topP < 1 ? opts.topP : 1;
  if (k < V || topP < 1) order.sort((a, b) => row[b]! - row[a]! || a - b);
  if (k < V) order = order.slice(0, k);
  let max = -Infinity;
  for (const i of order) max = Math.max(max, row[i]! / opts.temperature);
  const probs = order.map((i) => Math.exp(row[i]! / opts.temperature - max));
  let total = probs.reduce((a, b) => a + b, 0);
  if (topP < 1) {
    let acc = 0;
    let keep = 0;
    while (keep < probs.length) {
      acc += probs[keep]! / total;
      keep++;
      if (acc >= topP) break;
    }
    order = order.slice(0, keep);
    probs.length = keep;
    total = probs.reduce((a, b) => a + b, 0);
  }
  let u = opts.rng.next() * total;
  for (let j = 0; j < order.length; j++) {
    u -= probs[j]!;
    if (u < 0) return order[j]!;
  }
  return order[order.length - 1]!;
}

export interface ContinuationScore {
  /** Log-probability of each continuation token given the prompt and the tokens before it. */
  logprobs: number[];
  total: number;
}

/**
 * Scores continuations of one prompt (token ids), batched with right padding. Each continuation
 * must be non-empty; prompt + continuation must fit the model's context.
 */
export async function scoreContinuations(model: CausalLM, prompt: readonly number[], continuations: readonly (readonly number[])[], batchSize = 16): Promise<ContinuationScore[]> {
  const results: ContinuationScore[] = [];
  for (let start = 0; start < continuations.length; start += batchSize) {
    const chunk = continuations.slice(start, start + batchSize);
    const seqs = chunk.map((c) => [...prompt, ...c]);
    const T = Math.max(...seqs.map((s) => s.length));
    if (T > model.config.maxPositions) throw new Error(`prompt and continuation are ${T} tokens; the model's context is ${model.config.maxPositions}`);
    if (prompt.length === 0) throw new Error('cannot score without a prompt: encode at least one token (e.g. BOS)');
    const B = seqs.length;
    const ids = new Int32Array(B * T);
    const mask = new Float32Array(B * T);
    seqs.forEach((s, b) => s.forEach((t, i) => {
      ids[b * T + i] = t;
      mask[b * T + i] = 1;
    }));
    const lp = tf.tidy(() => model.tokenLogprobs(tf.tensor2d(ids, [B, T], 'int32'), tf.tensor2d(mask, [B, T])));
    const host = (await lp.data()) as Float32Array;
    lp.dispose();
    chunk.forEach((c, b) => {
      const logprobs: number[] = [];
      for (let j = 0; j < c.length; j++) logprobs.push(host[b * (T - 1) + prompt.length - 1 + j]!);
      results.push({ logprobs, total: logprobs.reduce((a, x) => a + x, 0) });
    });
  }
  return results;
}
