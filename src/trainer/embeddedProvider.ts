// The `embedded` provider: a model loaded in the trainer (a preset or a Hugging Face folder),
// served through the Provider interface the pipeline uses for every model. Completions are
// batched per sampling setting and spread over the engine's replicas; answer probabilities are
// exact (each option scored as a continuation).
//
// Small models have short contexts: a prompt that does not fit loses its oldest tokens (the
// few-shot prefix first), and `truncatedPrompts` counts how often that happened.

import type { ModelRef } from '../protocol/trainer';
import type { CancelSignal, ChoiceRequest, ChoiceResult, Completion, CompletionRequest, Provider } from '../core/providers/types';
import { ProviderError } from '../core/providers/types';
import { finishText, loadModel, makePool, type LoadedModel } from './engine';
import type { ReplicaPool } from './parallel';

export class EmbeddedProvider implements Provider {
  readonly id: string;
  truncatedPrompts = 0;

  private constructor(
    readonly model: LoadedModel,
    private readonly pool: ReplicaPool,
  ) {
    this.id = `embedded:${model.source}`;
  }

  static async create(ref: ModelRef, opts: { seed?: number; workers?: number } = {}): Promise<EmbeddedProvider> {
    const model = await loadModel(ref, opts.seed ?? 0);
    return new EmbeddedProvider(model, await makePool(model, opts.workers ?? Number.MAX_SAFE_INTEGER));
  }

  async ready(): Promise<void> {
    // Loaded in this process: ready once created.
  }

  /** Prompt ids that leave room for `room` more tokens, oldest tokens dropped first (BOS kept). */
  private fit(text: string, room: number): number[] {
    const ids = this.model.tokenizer.encode(text, { addSpecialTokens: true });
    const limit = this.model.config.maxPositions - room;
    if (limit < 1) throw new ProviderError(`${this.id}: the model's context of ${this.model.config.maxPositions} tokens cannot hold ${room} new tokens`, 'fatal');
    if (ids.length <= limit) return ids;
    this.truncatedPrompts++;
    const bos = this.model.tokenizer.bosTokenId;
    return bos !== undefined && ids[0] === bos ? [bos, ...ids.slice(ids.length - limit + 1)] : ids.slice(ids.length - limit);
  }

  async complete(requests: CompletionRequest[], signal?: CancelSignal): Promise<Completion[]> {
    const out = new Array<Completion>(requests.length);
    // One batch per sampling setting (and stop list), in the order first seen.
    const groups = new Map<string, number[]>();
    requests.forEach((r, i) => {
      const key = JSON.stringify([r.maxTokens, r.temperature, r.topP ?? 1, r.topK ?? 0, r.stop ?? []]);
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const idx of groups.values()) {
      if (signal?.aborted) throw new ProviderError(`${this.id}: cancelled`, 'retryable');
      const first = requests[idx[0]!]!;
      const maxNew = Math.max(1, Math.min(first.maxTokens, this.model.config.maxPositions - 1));
      const prompts = idx.map((i) => this.fit(requests[i]!.prompt, maxNew));
      const gens = await this.pool.generate({
        prompts,
        maxNewTokens: maxNew,
        temperature: first.temperature,
        ...(first.topK !== undefined ? { topK: first.topK } : {}),
        ...(first.topP !== undefined ? { topP: first.topP } : {}),
        eosTokenIds: [...this.model.config.eosTokenIds],
        seed: first.seed ?? 0,
      });
      gens.forEach((g, j) => {
        const f = finishText(g, this.model.tokenizer, first.stop ?? []);
        out[idx[j]!] = { text: f.text, finishReason: f.finishReason, completionTokens: f.tokens.length };
      });
    }
    return out;
  }

  async choose(requests: ChoiceRequest[], signal?: CancelSignal): Promise<ChoiceResult[]> {
    const results: ChoiceResult[] = [];
    for (const r of requests) {
      if (signal?.aborted) throw new ProviderError(`${this.id}: cancelled`, 'retryable');
      const options = r.options.map((o) => this.model.tokenizer.encode(o, { addSpecialTokens: false }));
      if (options.some((o) => o.length === 0)) throw new ProviderError(`${this.id}: an answer option encodes to no tokens`, 'fatal');
      const prompt = this.fit(r.prompt, Math.max(...options.map((o) => o.length)));
      const scores = await this.pool.score(prompt, options);
      results.push({ logprobs: scores.map((s) => s.total), method: 'exact' });
    }
    return results;
  }

  async dispose(): Promise<void> {
    await this.pool.dispose();
  }
}
