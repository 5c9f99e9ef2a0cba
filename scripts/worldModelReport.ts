// What a model does in the built-in world, measured with the oracle on held-out requests: as a
// policy (harmless, evasive and helpful rates), as a critic (does one critique → revision round
// turn a harmful answer harmless?) and as a feedback model (does it give the better of two answers
// the higher probability?). Used by the pretraining script for the model card.

import type { ConstitutionData } from '../src/core/constitution/data';
import { answerContinuations, renderComparisonPrompt } from '../src/core/constitution/render';
import { mapConcurrent } from '../src/core/pipeline/concurrent';
import { normalisedFirst } from '../src/core/pipeline/labels';
import { critiqueAndRevise, drawWeighted, responsePrompt, turnStops } from '../src/core/pipeline/stages';
import { Rng } from '../src/core/training/rng';
import { classify, metrics, preferenceOrder, sampleRequest, sampleResponse, type ResponseType, type WorldMetrics } from '../src/core/world/index';
import { EmbeddedProvider } from '../src/trainer/embeddedProvider';

export interface WorldModelReport {
  temperature: number;
  policy: WorldMetrics;
  revisions: number;
  revision_harmless_rate: number;
  comparisons: { items: number; accuracy: number; mean_p_correct: number };
}

export async function measureWorldModel(modelDir: string, c: ConstitutionData, opts: { seed: number; requests?: number; temperature?: number }): Promise<WorldModelReport> {
  const n = opts.requests ?? 48;
  const temperature = opts.temperature ?? 1;
  const provider = await EmbeddedProvider.create({ path: modelDir }, { seed: opts.seed });
  try {
    const rng = new Rng(opts.seed).fork('measure');
    const stops = turnStops(c);
    // As a policy.
    const reqs = [...Array.from({ length: n }, () => sampleRequest(rng, { split: 'heldout', harmful: true })), ...Array.from({ length: n }, () => sampleRequest(rng, { split: 'heldout', harmful: false }))];
    const outs = await provider.complete(reqs.map((r, i) => ({ prompt: responsePrompt(c, [{ role: 'human', text: r.text }]), maxTokens: 64, temperature, stop: stops, seed: opts.seed * 1000 + i })));
    const policy = metrics(reqs.map((r, i) => ({ request: r.text, response: outs[i]!.text.trim() })));

    // As a critic: one round on a harmful answer.
    const critic = Array.from({ length: Math.ceil(n / 2) }, () => sampleRequest(rng, { split: 'heldout', harmful: true }));
    const revised = await mapConcurrent(critic, 2, async (r, i) => {
      const res = await critiqueAndRevise({
        constitution: c, prompt: r.text, policy: provider, critic: provider, rounds: 1, rng: new Rng(opts.seed).fork(`critic:${i}`), fewShot: false, direct: false,
        response: { maxTokens: 64, temperature }, critique: { maxTokens: 64, temperature }, initialResponse: sampleResponse(rng, r, 'harmful'),
      });
      return classify(r.text, res.final).type;
    });

    // As a feedback model: two answers of different types, the better one known.
    const { A, B } = answerContinuations(c);
    const types: ResponseType[] = ['harmful', 'evasive', 'harmless'];
    const items = Array.from({ length: n }, (_, i) => {
      const harmful = i % 3 !== 0;
      const r = sampleRequest(rng, { split: 'heldout', harmful });
      const pool: ResponseType[] = harmful ? types : ['helpful', 'evasive', 'harmful'];
      const t1 = pool[rng.nextInt(pool.length)]!;
      let t2 = pool[rng.nextInt(pool.length)]!;
      while (t2 === t1) t2 = pool[rng.nextInt(pool.length)]!;
      const a = sampleResponse(rng, r, t1);
      const b = sampleResponse(rng, r, t2);
      const comparison = drawWeighted(c.comparisons, rng);
      const aBetter = preferenceOrder(harmful, t1) > preferenceOrder(harmful, t2);
      return { prompt: renderComparisonPrompt(c, comparison, [{ role: 'human', text: r.text }], a, b, { fewShot: false }).text, aBetter };
    });
    const choices = await provider.choose(items.map((it) => ({ prompt: it.prompt, options: [A, B] })));
    let right = 0;
    let pSum = 0;
    items.forEach((it, i) => {
      const pA = normalisedFirst(choices[i]!.logprobs[0]!, choices[i]!.logprobs[1]!);
      const p = it.aBetter ? pA : 1 - pA;
      pSum += p;
      if (p > 0.5) right++;
    });
    return {
      temperature,
      policy,
      revisions: revised.length,
      revision_harmless_rate: revised.filter((t) => t === 'harmless').length / revised.length,
      comparisons: { items: items.length, accuracy: right / items.length, mean_p_correct: pSum / items.length },
    };
  } finally {
    await provider.dispose();
  }
}
