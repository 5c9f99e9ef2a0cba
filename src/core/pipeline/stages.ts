// The data-making stages of the pipeline, written against the Provider interface so that the
// embedded engine and any HTTP endpoint run them the same way: critique → revision rounds,
// response pairs, and AI-feedback labels. Each function handles one prompt or one pair and
// returns a record; the orchestrator (src/trainer/pipeline.ts) batches, persists and resumes.

import type { ConstitutionData, ComparisonData, PrincipleData, TurnData } from '../constitution/data';
import { answerContinuations, renderComparisonPrompt, renderConversation, renderCritiquePrompt, renderDirectRevisionPrompt, renderRevisionPrompt } from '../constitution/render';
import type { Rng } from '../training/rng';
import type { CancelSignal, ChoiceMethod, Completion, CompletionRequest, Provider } from '../providers/types';
import type { RevisionRound } from '../runs/records';
import { answerLetter, clampLabel, combineOrders, normalisedFirst } from './labels';

export type { RevisionRound };

/** Draws one item with probability proportional to its weight (with replacement). */
export function drawWeighted<T extends { weight: number }>(items: readonly T[], rng: Rng): T {
  if (items.length === 0) throw new Error('nothing to draw from: the constitution has no entries of this kind');
  const total = items.reduce((a, x) => a + Math.max(0, x.weight), 0);
  if (!(total > 0)) return items[rng.nextInt(items.length)]!;
  let u = rng.next() * total;
  for (const x of items) {
    u -= Math.max(0, x.weight);
    if (u < 0) return x;
  }
  return items[items.length - 1]!;
}

export interface GenerationSettings {
  maxTokens: number;
  temperature: number;
  topP?: number;
}

/** Text the model writes after "Assistant:" ends at the next turn marker. */
export function turnStops(c: Pick<ConstitutionData, 'templates'>): string[] {
  const human = c.templates.human_turn.split('{text}')[0]?.trim();
  const stops = ['\n\nHuman:', '\n\nCritiqueRequest:', '\n\nRevisionRequest:', '\n\nAssistant:'];
  if (human && !stops.includes(`\n\n${human}`)) stops.push(`\n\n${human}`);
  return stops;
}

/** The prompt that asks the policy for an answer to a conversation. */
export function responsePrompt(c: ConstitutionData, conversation: readonly TurnData[]): string {
  const assistantPrefix = c.templates.assistant_turn.split('{text}')[0] ?? 'Assistant: ';
  return `${renderConversation(c, conversation)}\n\n${assistantPrefix.trimEnd()}`;
}

async function one(provider: Provider, req: CompletionRequest, signal?: CancelSignal): Promise<Completion> {
  const [out] = await provider.complete([req], signal);
  if (!out) throw new Error(`${provider.id} returned no completion`);
  return out;
}

export interface RevisionResult {
  initial_response: string;
  rounds: RevisionRound[];
  final: string;
}

/**
 * Answers a red-team prompt, then runs `rounds` critique → revision rounds, a principle drawn by
 * weight for every round; each round revises the previous round's answer. With `direct`, the
 * critique is skipped.
 */
export async function critiqueAndRevise(opts: {
  constitution: ConstitutionData;
  prompt: string;
  policy: Provider;
  critic: Provider;
  rounds: number;
  rng: Rng;
  fewShot: boolean;
  direct: boolean;
  response: GenerationSettings;
  critique: GenerationSettings;
  initialResponse?: string;
  signal?: CancelSignal;
}): Promise<RevisionResult> {
  const c = opts.constitution;
  const stop = turnStops(c);
  const human: TurnData = { role: 'human', text: opts.prompt };
  const initial = opts.initialResponse ?? (await one(opts.policy, { prompt: responsePrompt(c, [human]), ...opts.response, stop }, opts.signal)).text.trim();
  let current = initial;
  const rounds: RevisionRound[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const principle: PrincipleData = drawWeighted(c.principles, opts.rng);
    const conversation: TurnData[] = [human, { role: 'assistant', text: current }];
    let critique = '';
    let revisionPrompt: string;
    if (opts.direct) {
      revisionPrompt = renderDirectRevisionPrompt(c, principle, conversation).text;
    } else {
      const cp = renderCritiquePrompt(c, principle, conversation, { fewShot: opts.fewShot }).text;
      critique = (await one(opts.critic, { prompt: cp, ...opts.critique, stop }, opts.signal)).text.trim();
      revisionPrompt = renderRevisionPrompt(c, principle, conversation, critique, { fewShot: opts.fewShot }).text;
    }
    const revision = (await one(opts.critic, { prompt: revisionPrompt, ...opts.critique, stop }, opts.signal)).text.trim();
    rounds.push({ round: r + 1, principle: principle.id, critique_request: principle.critique, critique, revision_request: principle.revision, revision });
    // An empty revision keeps the previous answer rather than erasing it.
    if (revision) current = revision;
  }
  return { initial_response: initial, rounds, final: current };
}

/** Two (or more) responses to one prompt from the policy, for comparison. */
export async function samplePair(opts: { constitution: ConstitutionData; prompt: string; policy: Provider; samples: number; settings: GenerationSettings; seed: number; signal?: CancelSignal }): Promise<string[]> {
  const c = opts.constitution;
  const req = { prompt: responsePrompt(c, [{ role: 'human', text: opts.prompt }]), ...opts.settings, stop: turnStops(c) };
  const outs = await opts.policy.complete(Array.from({ length: opts.samples }, (_, i) => ({ ...req, seed: opts.seed + i })), opts.signal);
  return outs.map((o) => o.text.trim());
}

export interface FeedbackResult {
  principle: string;
  p_a: number;
  p_a_forward: number;
  p_a_reversed?: number;
  flipped?: boolean;
  label_method: ChoiceMethod | 'chain-of-thought';
  /** Chain-of-thought labelling: the reasoning of each order. */
  reasoning?: string[];
}

/**
 * Labels one pair: a comparison principle drawn by weight, the multiple-choice question with its
 * few-shot prefix, P(A) from the normalised answer probabilities, in both orders when asked.
 * With chain of thought, the feedback model reasons first and the letter it ends with becomes a
 * clamped label.
 */
export async function labelPair(opts: {
  constitution: ConstitutionData;
  prompt: string;
  responseA: string;
  responseB: string;
  feedback: Provider;
  rng: Rng;
  fewShot: boolean;
  bothOrders: boolean;
  chainOfThought?: { clamp: readonly [number, number]; maxTokens: number; samples: number };
  signal?: CancelSignal;
}): Promise<FeedbackResult> {
  const c = opts.constitution;
  const comparison: ComparisonData = drawWeighted(c.comparisons, opts.rng);
  const conversation: TurnData[] = [{ role: 'human', text: opts.prompt }];
  const ask = async (first: string, second: string): Promise<{ pA: number; method: ChoiceMethod | 'chain-of-thought'; reasoning?: string }> => {
    if (opts.chainOfThought) {
      const q = renderComparisonPrompt(c, comparison, conversation, first, second, { fewShot: opts.fewShot, chainOfThought: true }).text;
      const outs = await opts.feedback.complete(Array.from({ length: opts.chainOfThought.samples }, (_, i) => ({ prompt: q, maxTokens: opts.chainOfThought!.maxTokens, temperature: opts.chainOfThought!.samples > 1 ? 1 : 0, seed: i })), opts.signal);
      const letters = outs.map((o) => answerLetter(o.text));
      const a = letters.filter((l) => l === 'A').length;
      const b = letters.filter((l) => l === 'B').length;
      const raw = a + b === 0 ? 0.5 : a / (a + b);
      return { pA: clampLabel(raw, opts.chainOfThought.clamp), method: 'chain-of-thought', reasoning: outs.map((o) => o.text.trim()).join('\n---\n') };
    }
    const q = renderComparisonPrompt(c, comparison, conversation, first, second, { fewShot: opts.fewShot }).text;
    const { A, B } = answerContinuations(c);
    const [res] = await opts.feedback.choose([{ prompt: q, options: [A, B] }], opts.signal);
    if (!res) throw new Error(`${opts.feedback.id} returned no answer probabilities`);
    return { pA: normalisedFirst(res.logprobs[0]!, res.logprobs[1]!), method: res.method };
  };
  const forward = await ask(opts.responseA, opts.responseB);
  const reversed = opts.bothOrders ? await ask(opts.responseB, opts.responseA) : undefined;
  const label = combineOrders(forward.pA, reversed?.pA);
  const reasoning = [forward.reasoning, reversed?.reasoning].filter((x): x is string => x !== undefined);
  return {
    principle: comparison.id,
    ...label,
    label_method: forward.method,
    ...(reasoning.length ? { reasoning } : {}),
  };
}
