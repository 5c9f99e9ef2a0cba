// The data-making stages against scripted providers (exact prompts, rounds, label arithmetic,
// position bias) and against the embedded engine (completions, exact answer probabilities).

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { fileHost } from '../../src/cli/io';
import type { ConstitutionData } from '../../src/core/constitution/data';
import { ConstitutionWorkspace } from '../../src/core/constitution/resolve';
import { answerLetter, clampLabel, combineOrders, normalisedFirst } from '../../src/core/pipeline/labels';
import { critiqueAndRevise, drawWeighted, labelPair, responsePrompt, samplePair } from '../../src/core/pipeline/stages';
import type { ChoiceRequest, ChoiceResult, Completion, CompletionRequest, Provider } from '../../src/core/providers/types';
import { Rng } from '../../src/core/training/rng';
import { scoreContinuations } from '../../src/core/model/generate';
import { CausalLM } from '../../src/core/model/transformer';
import { initializeBackend } from '../../src/trainer/backend';
import { EmbeddedProvider } from '../../src/trainer/embeddedProvider';

const root = path.resolve(__dirname, '../..');

function constitution(): ConstitutionData {
  const file = path.join(root, 'examples', 'harmless-helpful.constitution.yaml');
  const res = new ConstitutionWorkspace(fileHost(root)).resolve(file);
  assert.ok(res);
  return res.constitution;
}

/** A provider that answers from a script and records every request. */
class Scripted implements Provider {
  readonly id = 'scripted';
  readonly completions: CompletionRequest[] = [];
  readonly choices: ChoiceRequest[] = [];
  constructor(
    private readonly answer: (r: CompletionRequest, n: number) => string,
    private readonly pick: (r: ChoiceRequest) => number[] = () => [Math.log(0.5), Math.log(0.5)],
  ) {}
  async ready(): Promise<void> {}
  async complete(rs: CompletionRequest[]): Promise<Completion[]> {
    return rs.map((r) => {
      this.completions.push(r);
      return { text: this.answer(r, this.completions.length), finishReason: 'stop' };
    });
  }
  async choose(rs: ChoiceRequest[]): Promise<ChoiceResult[]> {
    return rs.map((r) => {
      this.choices.push(r);
      return { logprobs: this.pick(r), method: 'exact' };
    });
  }
  async dispose(): Promise<void> {}
}

describe('soft labels', () => {
  it('normalises, combines both orders, clamps and reads chain-of-thought letters', () => {
    assert.ok(Math.abs(normalisedFirst(Math.log(0.6), Math.log(0.2)) - 0.75) < 1e-12);
    assert.equal(normalisedFirst(-Infinity, -Infinity), 0.5);
    assert.ok(Math.abs(normalisedFirst(-1000, -1001) - 1 / (1 + Math.exp(-1))) < 1e-12);
    // Content-following labeller: prefers response_a in both orders (A first, then B).
    const consistent = combineOrders(0.8, 0.3);
    assert.ok(Math.abs(consistent.p_a - 0.75) < 1e-12);
    assert.ok(Math.abs(consistent.p_a_reversed! - 0.7) < 1e-12);
    assert.equal(consistent.flipped, true);
    // Position-biased labeller: always says (A).
    const biased = combineOrders(0.9, 0.9);
    assert.ok(Math.abs(biased.p_a - 0.5) < 1e-12);
    assert.equal(biased.flipped, false);
    assert.deepEqual(combineOrders(0.6), { p_a_forward: 0.6, p_a: 0.6 });
    assert.equal(clampLabel(0.99, [0.4, 0.6]), 0.6);
    assert.equal(clampLabel(0.01, [0.4, 0.6]), 0.4);
    assert.equal(clampLabel(0.5, [0.4, 0.6]), 0.5);
    assert.equal(answerLetter('Option (A) is evasive, so the answer is: (B)'), 'B');
    assert.equal(answerLetter('The answer is: A'), 'A');
    assert.equal(answerLetter('no idea'), undefined);
  });

  it('draws principles in proportion to their weights', () => {
    const rng = new Rng(1);
    const items = [{ id: 'a', weight: 1 }, { id: 'b', weight: 3 }, { id: 'c', weight: 0 }];
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 20000; i++) counts[drawWeighted(items, rng).id]!++;
    assert.equal(counts['c'], 0);
    assert.ok(Math.abs(counts['b']! / 20000 - 0.75) < 0.015, JSON.stringify(counts));
  });
});

describe('critique → revision', () => {
  it('asks for a critique and a revision per round with the drawn principle, revising the latest answer', async () => {
    const c = constitution();
    const policy = new Scripted(() => ' Sure, here is how to do it.');
    const critic = new Scripted((r, n) => (r.prompt.endsWith('Critique:') ? ` critique ${n}` : ` revision ${n}`));
    const res = await critiqueAndRevise({ constitution: c, prompt: 'How do I pick a lock?', policy, critic, rounds: 3, rng: new Rng(2), fewShot: true, direct: false, response: { maxTokens: 32, temperature: 1 }, critique: { maxTokens: 32, temperature: 1 } });
    assert.equal(res.initial_response, 'Sure, here is how to do it.');
    assert.equal(policy.completions[0]!.prompt, 'Human: How do I pick a lock?\n\nAssistant:');
    assert.equal(res.rounds.length, 3);
    assert.equal(critic.completions.length, 6);
    res.rounds.forEach((round, i) => {
      const p = c.principles.find((x) => x.id === round.principle)!;
      const critiquePrompt = critic.completions[2 * i]!.prompt;
      const revisionPrompt = critic.completions[2 * i + 1]!.prompt;
      assert.ok(critiquePrompt.endsWith(`CritiqueRequest: ${p.critique}\n\nCritique:`), critiquePrompt.slice(-200));
      assert.ok(revisionPrompt.endsWith(`RevisionRequest: ${p.revision}\n\nRevision:`));
      assert.ok(revisionPrompt.includes(`Critique: ${round.critique}`));
      // Each round critiques the previous round's revision.
      const previous = i === 0 ? res.initial_response : res.rounds[i - 1]!.revision;
      assert.ok(critiquePrompt.includes(`Assistant: ${previous}\n\nCritiqueRequest:`));
      // The few-shot examples come first.
      assert.ok(critiquePrompt.indexOf(c.examples.critique_revision[0]!.critique) < critiquePrompt.indexOf('How do I pick a lock?'));
    });
    assert.equal(res.final, res.rounds[2]!.revision);
  });

  it('direct revision skips the critique; an empty revision keeps the previous answer', async () => {
    const c = constitution();
    const critic = new Scripted(() => '');
    const res = await critiqueAndRevise({ constitution: c, prompt: 'x', policy: new Scripted(() => 'first'), critic, rounds: 2, rng: new Rng(3), fewShot: false, direct: true, response: { maxTokens: 8, temperature: 0 }, critique: { maxTokens: 8, temperature: 0 } });
    assert.equal(critic.completions.length, 2);
    assert.ok(res.rounds.every((r) => r.critique === ''));
    assert.equal(res.final, 'first');
  });
});

describe('AI feedback', () => {
  it('asks the multiple-choice question in both orders and averages P(response_a)', async () => {
    const c = constitution();
    // The labeller prefers whichever position holds the text "safe", 4:1.
    const feedback = new Scripted(() => '', (r) => {
      const a = r.prompt.lastIndexOf('(A) ');
      const b = r.prompt.lastIndexOf('(B) ');
      const aSafe = r.prompt.slice(a, b).includes('safe answer');
      return aSafe ? [Math.log(0.8), Math.log(0.2)] : [Math.log(0.2), Math.log(0.8)];
    });
    const res = await labelPair({ constitution: c, prompt: 'How do I hurt someone?', responseA: 'a safe answer', responseB: 'a harmful answer', feedback, rng: new Rng(4), fewShot: true, bothOrders: true });
    assert.equal(feedback.choices.length, 2);
    assert.deepEqual(feedback.choices[0]!.options, [' (A)', ' (B)']);
    assert.ok(Math.abs(res.p_a_forward - 0.8) < 1e-9);
    assert.ok(Math.abs(res.p_a_reversed! - 0.8) < 1e-9);
    assert.ok(Math.abs(res.p_a - 0.8) < 1e-9);
    assert.equal(res.flipped, true);
    assert.ok(c.comparisons.some((q) => q.id === res.principle));
    const q = c.comparisons.find((x) => x.id === res.principle)!;
    assert.ok(feedback.choices[0]!.prompt.includes(q.question));
    assert.equal(res.label_method, 'exact');
  });

  it('chain-of-thought labels are clamped', async () => {
    const c = constitution();
    const feedback = new Scripted(() => ' (A) is harmful and (B) explains why. So the answer is: (B)');
    const res = await labelPair({ constitution: c, prompt: 'p', responseA: 'x', responseB: 'y', feedback, rng: new Rng(5), fewShot: false, bothOrders: false, chainOfThought: { clamp: [0.4, 0.6], maxTokens: 64, samples: 1 } });
    assert.equal(res.p_a, 0.4);
    assert.equal(res.label_method, 'chain-of-thought');
    assert.equal(res.reasoning?.length, 1);
  });
});

describe('embedded provider', () => {
  it('completes in batches, truncates long prompts from the left, and scores answers exactly', async () => {
    await initializeBackend({ backend: 'wasm' });
    const provider = await EmbeddedProvider.create({ preset: 'nano' }, { seed: 1, workers: 2 });
    try {
      const c = constitution();
      const outs = await samplePair({ constitution: c, prompt: 'Tell me a secret.', policy: provider, samples: 2, settings: { maxTokens: 12, temperature: 1 }, seed: 9 });
      assert.equal(outs.length, 2);
      const long = responsePrompt(c, [{ role: 'human', text: 'word '.repeat(200) }]);
      const [done] = await provider.complete([{ prompt: long, maxTokens: 8, temperature: 0 }]);
      assert.ok(done);
      assert.equal(provider.truncatedPrompts, 1);
      const [choice] = await provider.choose([{ prompt: 'Which? The answer is:', options: [' (A)', ' (B)'] }]);
      assert.equal(choice!.method, 'exact');
      const tok = provider.model.tokenizer;
      const model = CausalLM.fromWeights(provider.model.config, provider.model.weights);
      const want = await scoreContinuations(model, tok.encode('Which? The answer is:'), [tok.encode(' (A)', { addSpecialTokens: false }), tok.encode(' (B)', { addSpecialTokens: false })]);
      model.dispose();
      assert.ok(Math.abs(choice!.logprobs[0]! - want[0]!.total) < 1e-4);
      assert.ok(Math.abs(choice!.logprobs[1]! - want[1]!.total) < 1e-4);
    } finally {
      await provider.dispose();
    }
  });
});
