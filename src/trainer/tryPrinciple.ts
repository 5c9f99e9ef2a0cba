// "Try on sample prompts": one principle of a constitution on a few prompts with a given model,
// through the same stage functions the pipeline uses (src/core/pipeline/stages.ts), so what the
// author sees is what a run would do with that principle.

import { ConstitutionWorkspace } from '../core/constitution/resolve.js';
import { critiqueAndRevise, labelPair, samplePair } from '../core/pipeline/stages.js';
import { Rng } from '../core/training/rng.js';
import type { TryPrincipleItem, TryPrincipleParams, TryPrincipleResult } from '../protocol/trainer.js';
import { nodeFileHost } from './fileHost.js';
import { JobError, type JobContext } from './jobs.js';
import { createProvider } from './providers.js';

export async function runTryPrinciple(p: TryPrincipleParams, ctx: JobContext): Promise<TryPrincipleResult> {
  const res = new ConstitutionWorkspace(nodeFileHost()).resolve(p.constitutionFile);
  if (!res) throw new JobError('config', `${p.constitutionFile}: cannot be read`, false);
  const err = res.diagnostics.find((d) => d.severity === 'error');
  if (err) throw new JobError('config', `${p.constitutionFile}:${err.range.start.line + 1}:${err.range.start.character + 1}: ${err.message}`, false);
  const c = res.constitution;
  const principle = c.principles.find((x) => x.id === p.principle);
  const comparison = c.comparisons.find((x) => x.id === p.principle);
  if (!principle && !comparison) throw new JobError('config', `${p.constitutionFile}: no principle or comparison '${p.principle}'`, false);
  if (p.prompts.length === 0) throw new JobError('config', 'no prompts to try the principle on', false);
  const provider = await createProvider(p.provider, { concurrency: 1, seed: p.seed });
  const items: TryPrincipleItem[] = [];
  const settings = { maxTokens: p.maxTokens, temperature: p.temperature };
  try {
    for (const [i, prompt] of p.prompts.entries()) {
      ctx.throwIfCancelled();
      ctx.progress({ stage: 'try', step: i, totalSteps: p.prompts.length, metrics: {} });
      if (principle) {
        const r = await critiqueAndRevise({
          constitution: { ...c, principles: [principle] }, prompt, policy: provider, critic: provider, rounds: 1, rng: new Rng(p.seed).fork(`try:${i}`),
          fewShot: true, direct: false, response: settings, critique: settings,
        });
        const round = r.rounds[0];
        items.push({ kind: 'critique', prompt, initial_response: r.initial_response, critique_request: principle.critique, critique: round?.critique ?? '', revision_request: principle.revision, revision: round?.revision ?? '' });
      } else if (comparison) {
        const [a = '', b = ''] = await samplePair({ constitution: c, prompt, policy: provider, samples: 2, settings, seed: p.seed + i * 2 });
        const label = await labelPair({ constitution: { ...c, comparisons: [comparison] }, prompt, responseA: a, responseB: b, feedback: provider, rng: new Rng(p.seed), fewShot: true, bothOrders: true });
        items.push({ kind: 'comparison', prompt, response_a: a, response_b: b, p_a: label.p_a, p_a_forward: label.p_a_forward, ...(label.p_a_reversed !== undefined ? { p_a_reversed: label.p_a_reversed } : {}), label_method: label.label_method });
      }
      ctx.progress({ stage: 'try', step: i + 1, totalSteps: p.prompts.length, metrics: {} });
    }
  } finally {
    await provider.dispose();
  }
  return { principle: p.principle, kind: principle ? 'critique' : 'comparison', model: provider.id, items };
}
