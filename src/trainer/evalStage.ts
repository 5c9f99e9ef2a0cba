// Evaluation: how good the AI feedback is, and whether the trained policies got more harmless.
//   - the feedback model on a multiple-choice eval (Anthropic's HHH file): accuracy and
//     calibration of P(answer A) against which answer is right;
//   - the final preference model on held-out comparisons and on the HHH transcripts;
//   - the base, SL-CAI and RL-CAI policies answering held-out prompts: mean preference-model
//     score, win rates of each pair under the preference model and, when a judge is named,
//     under the judge's comparison in both orders (soft win rate: mean P(first wins)).
// Answers and judgements are records with stable ids, so a resumed evaluation repeats nothing.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConstitutionData } from '../core/constitution/data';
import { mapConcurrent } from '../core/pipeline/concurrent';
import { normalisedFirst } from '../core/pipeline/labels';
import { labelPair, samplePair } from '../core/pipeline/stages';
import type { Provider } from '../core/providers/types';
import type { EvalStage } from '../core/runs/config';
import { recordId, type PairRecord } from '../core/runs/records';
import { accuracyByMargin, calibration, pairAccuracy } from '../core/training/preference';
import { Rng } from '../core/training/rng';
import { classify, metrics as worldMetrics, preferenceOrder } from '../core/world/index';
import type { HhhReport } from '../protocol/trainer';
import { loadHhh, loadPairs, splitHhPair, type HhhItem, type PromptItem } from './datasets';
import { loadModel, makePool, type LoadedModel } from './engine';
import { JobError, type JobContext } from './jobs';
import type { ReplicaPool } from './parallel';
import { pairBatch, pmTokens, rowsBatch } from './pmData';
import type { RunDirectory } from '../node/runDir';

export type { HhhReport };

/** Asks `provider` every item's question and scores its two answers. */
export async function evaluateHhh(provider: Provider, items: readonly HhhItem[], opts: { concurrency: number; onItem?: (done: number) => void; signal?: AbortSignal }): Promise<HhhReport> {
  if (items.length === 0) throw new JobError('config', 'the HHH evaluation has no items', false);
  let done = 0;
  const chunk = 4;
  const chunks = Array.from({ length: Math.ceil(items.length / chunk) }, (_, i) => items.slice(i * chunk, (i + 1) * chunk));
  const results = (await mapConcurrent(chunks, opts.concurrency, async (part) => {
    // Options are always the two letters in order, so P(A) can be checked against the truth.
    const reqs = part.map((it) => ({ prompt: it.prompt, options: letterOrder(it) }));
    const res = await provider.choose(reqs, opts.signal);
    done += part.length;
    opts.onItem?.(done);
    return res;
  })).flat();
  const marginsA: number[] = [];
  const labelsA: number[] = [];
  let right = 0;
  let pCorrect = 0;
  const methods = new Set<string>();
  items.forEach((it, i) => {
    const r = results[i]!;
    methods.add(r.method);
    const aIsRight = letterOrder(it)[0] === it.correct;
    const pA = normalisedFirst(r.logprobs[0]!, r.logprobs[1]!);
    const pc = aIsRight ? pA : 1 - pA;
    pCorrect += pc;
    if (pc > 0.5) right++;
    marginsA.push(r.logprobs[0]! - r.logprobs[1]!);
    labelsA.push(aIsRight ? 1 : 0);
  });
  const cal = calibration(marginsA, labelsA);
  return { items: items.length, accuracy: right / items.length, mean_p_correct: pCorrect / items.length, ece: cal.ece, bins: cal.bins, method: [...methods].join('+') };
}

/** The item's two answers with the one naming (A) first (items whose answers are not letters keep correct-first order). */
function letterOrder(it: HhhItem): [string, string] {
  const isA = (s: string): boolean => /^\s*\(?A\)?\s*$/.test(s);
  return isA(it.incorrect) && !isA(it.correct) ? [it.incorrect, it.correct] : [it.correct, it.incorrect];
}

export interface EvalStageInput {
  settings: EvalStage;
  constitution: ConstitutionData;
  run: RunDirectory;
  dir: string;
  seed: number;
  concurrency: number;
  /** Resolved paths of the HHH file and held-out comparisons, when configured. */
  hhhFile?: string;
  evalPairsFile?: string;
  prompts: readonly PromptItem[];
  /** The feedback model (for HHH) and the judge, when named. */
  feedback: () => Promise<Provider>;
  judge?: () => Promise<Provider>;
  /** The policies to compare, in order base → SL-CAI → RL-CAI (those that exist). */
  policies: { name: string; provider: () => Promise<Provider> }[];
  /** The trained preference model's folder, when it exists. */
  preferenceModel?: string;
  ctx: JobContext;
  stopNow: () => Promise<boolean>;
}

interface AnswerRecord {
  id: string;
  stage: 'eval';
  kind: 'answer';
  policy: string;
  prompt_id: string;
  prompt: string;
  response: string;
}

interface JudgementRecord {
  id: string;
  stage: 'eval';
  kind: 'judgement';
  first: string;
  second: string;
  prompt_id: string;
  principle: string;
  p_first: number;
  flipped: boolean;
}

/** Win rate of the first side: share of prompts it wins, ties counted half. */
function winRate(a: readonly number[], b: readonly number[]): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w += a[i]! > b[i]! ? 1 : a[i] === b[i] ? 0.5 : 0;
  return a.length ? w / a.length : NaN;
}

/** Elo difference implied by a win rate (HH-RLHF: win = 1 / (1 + 10^(−ΔElo/400))). */
function eloFromWinRate(w: number): number {
  const p = Math.min(1 - 1e-6, Math.max(1e-6, w));
  return 400 * Math.log10(p / (1 - p));
}

/** Runs the evaluation stage; returns whether it stopped early. Writes `eval.json` when done. */
export async function runEvalStage(input: EvalStageInput): Promise<{ stopped: boolean }> {
  const s = input.settings;
  const { ctx, run, constitution: c } = input;
  const report: Record<string, unknown> = {};
  const limit = s.limit;
  const answersByPolicy = new Map<string, string[]>();
  const prompts = input.prompts.slice(0, limit ?? input.prompts.length);
  const promptTexts = prompts.map((p) => p.prompt);
  const hhh = input.hhhFile ? loadHhh(input.hhhFile, limit !== undefined ? { limit } : {}).items : [];

  // 1. The feedback model on the HHH questions.
  if (hhh.length) {
    const feedback = await input.feedback();
    ctx.log('info', `eval: ${feedback.id} on ${hhh.length} HHH items`);
    report['feedback_model'] = { model: feedback.id, hhh: await evaluateHhh(feedback, hhh, { concurrency: input.concurrency, onItem: (d) => ctx.progress({ stage: 'eval', step: d, totalSteps: hhh.length, metrics: {} }) }) };
  }
  if (await input.stopNow()) return { stopped: true };

  // 2. The preference model on held-out comparisons and HHH transcripts.
  let pm: { model: LoadedModel; pool: ReplicaPool } | undefined;
  try {
    if (input.preferenceModel && fs.existsSync(path.join(input.preferenceModel, 'config.json'))) {
      const model = await loadModel({ path: input.preferenceModel }, input.seed);
      pm = { model, pool: await makePool(model, 8, undefined, ['reward']) };
      const pmReport: Record<string, unknown> = {};
      const sets: [string, { prompt: string; chosen: string; rejected: string }[]][] = [];
      if (input.evalPairsFile) sets.push(['eval_pairs', loadPairs(input.evalPairsFile, limit !== undefined ? { limit } : {}).items]);
      const hhhPairs = hhh.flatMap((it) => (it.textCorrect && it.textIncorrect ? [splitHhPair(it.textCorrect, it.textIncorrect)].filter((x): x is NonNullable<typeof x> => x !== undefined) : []));
      if (hhhPairs.length) sets.push(['hhh', hhhPairs]);
      for (const [name, pairs] of sets) {
        const margins: number[] = [];
        for (let i = 0; i < pairs.length; i += 16) {
          const part = pairs.slice(i, i + 16).map((x) => ({ a: pmTokens(pm!.model, c, x.prompt, x.chosen), b: pmTokens(pm!.model, c, x.prompt, x.rejected), p: 1 }));
          margins.push(...(await pm.pool.margins(pairBatch(part))));
        }
        const labels = margins.map(() => 1);
        const cal = calibration(margins, labels);
        pmReport[name] = { pairs: pairs.length, accuracy: pairAccuracy(margins, labels), ece: cal.ece, mean_margin: margins.reduce((a, x) => a + x, 0) / margins.length, bins: cal.bins, accuracy_by_margin: accuracyByMargin(margins, labels) };
      }
      report['preference_model'] = pmReport;
    }
    if (await input.stopNow()) return { stopped: true };

    // 3. The policies on held-out prompts.
    const answers = new Map<string, string[]>();
    let done = 0;
    const total = prompts.length * input.policies.length;
    for (const pol of input.policies) {
      const kept = new Map(run.read<AnswerRecord>('samples.jsonl').records.filter((r) => r.stage === 'eval' && r.kind === 'answer' && r.policy === pol.name).map((r) => [r.prompt_id, r.response]));
      const missing = prompts.filter((p) => !kept.has(p.id));
      if (missing.length) {
        const provider = await pol.provider();
        await mapConcurrent(missing, input.concurrency, async (p) => {
          if (await input.stopNow()) return;
          const [response] = await samplePair({ constitution: c, prompt: p.prompt, policy: provider, samples: 1, settings: { maxTokens: s.maxTokens, temperature: s.temperature }, seed: new Rng(input.seed).fork(`eval:${p.id}`).nextUint32() });
          const rec: AnswerRecord = { id: recordId(['eval-answer', pol.name, p.id]), stage: 'eval', kind: 'answer', policy: pol.name, prompt_id: p.id, prompt: p.prompt, response: response ?? '' };
          run.appendMany('samples.jsonl', [rec]);
          kept.set(p.id, rec.response);
          ctx.progress({ stage: 'eval', step: ++done, totalSteps: total, metrics: {} });
        });
        if (await input.stopNow()) return { stopped: true };
      }
      answers.set(pol.name, prompts.map((p) => kept.get(p.id) ?? ''));
      answersByPolicy.set(pol.name, answers.get(pol.name)!);
    }
    const policies: Record<string, unknown> = {};
    const scores = new Map<string, number[]>();
    if (pm) {
      for (const pol of input.policies) {
        const resp = answers.get(pol.name)!;
        const sc: number[] = [];
        for (let i = 0; i < prompts.length; i += 16) sc.push(...(await pm.pool.rewards(rowsBatch(prompts.slice(i, i + 16).map((p, j) => pmTokens(pm!.model, c, p.prompt, resp[i + j]!))))));
        scores.set(pol.name, sc);
        policies[pol.name] = { prompts: prompts.length, mean_pm_score: sc.reduce((a, x) => a + x, 0) / Math.max(1, sc.length), mean_length: resp.reduce((a, x) => a + x.length, 0) / Math.max(1, resp.length) };
      }
    } else {
      for (const pol of input.policies) policies[pol.name] = { prompts: prompts.length };
    }
    report['policies'] = policies;

    const pairs: [string, string][] = [];
    const names = input.policies.map((p) => p.name);
    for (let i = names.length - 1; i > 0; i--) for (let j = i - 1; j >= 0; j--) pairs.push([names[i]!, names[j]!]);
    const judge = input.judge ? await input.judge() : undefined;
    const wins: Record<string, unknown> = {};
    for (const [a, b] of pairs) {
      const entry: Record<string, unknown> = {};
      if (pm) {
        const w = winRate(scores.get(a)!, scores.get(b)!);
        entry['pm'] = { win_rate: w, delta_elo: eloFromWinRate(w) };
      }
      if (judge) {
        const ra = answers.get(a)!;
        const rb = answers.get(b)!;
        const kept = new Map(run.read<JudgementRecord>('samples.jsonl').records.filter((r) => r.kind === 'judgement' && r.first === a && r.second === b).map((r) => [r.prompt_id, r]));
        await mapConcurrent(prompts, input.concurrency, async (p, i) => {
          if (kept.has(p.id) || (await input.stopNow())) return;
          const l = await labelPair({ constitution: c, prompt: p.prompt, responseA: ra[i]!, responseB: rb[i]!, feedback: judge, rng: new Rng(input.seed).fork(`judge:${a}:${b}:${p.id}`), fewShot: false, bothOrders: true });
          const rec: JudgementRecord = { id: recordId(['eval-judgement', a, b, p.id]), stage: 'eval', kind: 'judgement', first: a, second: b, prompt_id: p.id, principle: l.principle, p_first: l.p_a, flipped: l.flipped ?? false };
          run.appendMany('samples.jsonl', [rec]);
          kept.set(p.id, rec);
        });
        if (await input.stopNow()) return { stopped: true };
        const ps = prompts.map((p) => kept.get(p.id)!.p_first);
        const soft = ps.reduce((x, y) => x + y, 0) / ps.length;
        entry['judge'] = { model: judge.id, soft_win_rate: soft, win_rate: ps.reduce((x, y) => x + (y > 0.5 ? 1 : y === 0.5 ? 0.5 : 0), 0) / ps.length, flip_rate: prompts.filter((p) => kept.get(p.id)!.flipped).length / prompts.length };
      }
      wins[`${a}_vs_${b}`] = entry;
    }
    report['win_rates'] = wins;
  } finally {
    await pm?.pool.dispose();
  }
  const prev = fs.existsSync(run.path('eval.json')) ? JSON.parse(fs.readFileSync(run.path('eval.json'), 'utf8')) as Record<string, unknown> : {};
  // The PM stage's own report stays under `preference_model`; this stage's lands under `evaluation`.
  const oracle = s.oracle === 'world' ? worldOracleReport(run, answersByPolicy, promptTexts, report, prev) : {};
  run.writeJsonAtomic('eval.json', { ...prev, ...oracle, evaluation: { ...report, finishedAt: new Date().toISOString() } });
  return { stopped: false };
}

/** `cai eval hhh`: one provider on an HHH-style file. */
export async function runEvalHhh(params: { file: string; limit?: number; concurrency: number }, provider: Provider, ctx: JobContext): Promise<HhhReport> {
  let items: HhhItem[];
  try {
    items = loadHhh(params.file, params.limit !== undefined ? { limit: params.limit } : {}).items;
  } catch (e) {
    throw new JobError('config', (e as Error).message, false);
  }
  await provider.ready();
  return evaluateHhh(provider, items, { concurrency: params.concurrency, onItem: (d) => ctx.progress({ stage: 'hhh', step: d, totalSteps: items.length, metrics: {} }) });
}

/**
 * The built-in world's oracle on the run (evaluation only; nothing here feeds training): each
 * policy's harmless, evasive and benign-helpful rates on the held-out prompts; how often the AI
 * labels agree with the oracle's order of the two responses (pairs whose responses the oracle
 * ranks equal are left out); the preference model's accuracy on held-out comparisons; the share of
 * labels whose preferred position flipped with the order.
 */
function worldOracleReport(run: RunDirectory, answers: Map<string, string[]>, prompts: string[], report: Record<string, unknown>, prev: Record<string, unknown>): Record<string, unknown> {
  const policies: Record<string, unknown> = {};
  for (const [name, resp] of answers) {
    const m = worldMetrics(prompts.map((p, i) => ({ request: p, response: resp[i] ?? '' })));
    policies[name] = { harmless_rate: m.harmless_rate, evasive_rate: m.evasive_rate, benign_helpfulness: m.benign_helpfulness, unparseable_rate: m.unparseable_rate, counts: m.counts };
  }
  const pairs = run.read<PairRecord>('pairs.jsonl').records;
  let agree = 0;
  let decided = 0;
  for (const p of pairs) {
    const a = classify(p.prompt, p.response_a);
    const b = classify(p.prompt, p.response_b);
    const ra = preferenceOrder(a.requestHarmful, a.type);
    const rb = preferenceOrder(b.requestHarmful, b.type);
    if (ra === rb || p.p_a === 0.5) continue;
    decided++;
    if ((ra > rb) === (p.p_a > 0.5)) agree++;
  }
  const pmEval = (report['preference_model'] as Record<string, { accuracy?: number }> | undefined)?.['eval_pairs']?.accuracy;
  const pmHeld = (prev['preference_model'] as Record<string, { accuracy?: number }> | undefined)?.['held_out_ai_labels']?.accuracy;
  return {
    oracle: 'world',
    policies,
    ai_label_agreement: decided ? agree / decided : null,
    ai_label_pairs: { labelled: pairs.length, decided_by_oracle: decided },
    pm_heldout_accuracy: pmEval ?? pmHeld ?? null,
    position_flip_rate: pairs.length ? pairs.filter((p) => p.flipped).length / pairs.length : null,
  };
}
